"""Hand-written parts of the configuration reference (``infra.config_reference`` renders them).

``FIELD_NOTES`` describes settings fields whose class has no description (upstream classes we
extend, and a field declared without ``Field``); ``UPSTREAM`` the variables libraries read
themselves; ``COMPOSE`` the variables of ``compose.yaml``. Tests check that every entry is
used and every variable used is here, so this file cannot rot either.
"""

from __future__ import annotations

INTRO = """
Every service reads its settings from environment variables (pydantic-settings; a `.env` file
in the working directory is read too). Names are case-insensitive. Lists take JSON
(`["a","b"]`) or, where noted, commas (`a,b`); mappings take JSON. The database always comes
from libpq's `PG*` variables. A variable listed in several sections is read by each of those
services, each with the default of its own section.
"""

FIELD_NOTES: dict[str, str] = {
    # stac_api.settings.AuthSettings.keys is declared without a Field description.
    "EARTHSIG_API_KEYS": "API keys that authorise writes, comma separated (with "
    "`EARTHSIG_API_KEYS_FILE`, the union). Only read when transactions are enabled.",
    # stac-fastapi-pgstac's Settings (upstream names, upstream meanings).
    "ENABLED_EXTENSIONS": "Extensions to enable, comma separated; unset: all of them.",
    "ENABLE_TRANSACTIONS_EXTENSIONS": "Enable writes (Transactions, Bulk Transactions); "
    "writes then need an API key.",
    "ENABLE_CATALOGS_EXTENSION": "Enable upstream's Catalogs extension.",
    "HIDE_ALTERNATE_PARENTS": "Catalogs extension: hide alternate parent links.",
    "VALIDATE_EXTENSIONS": "Validate `stac_extensions` schemas of written items (implies "
    "transactions).",
    "STAC_FASTAPI_TITLE": "Landing page title.",
    "STAC_FASTAPI_DESCRIPTION": "Landing page description.",
    "STAC_FASTAPI_VERSION": "API version on the landing page.",
    "STAC_FASTAPI_LANDING_ID": "Landing page id.",
    "ENABLE_RESPONSE_MODELS": "Validate responses with pydantic (slow; excludes direct "
    "responses).",
    "ENABLE_DIRECT_RESPONSE": "Return responses without validation or serialisation.",
    "OPENAPI_URL": "Path of the OpenAPI document.",
    "DOCS_URL": "Path of the interactive API docs.",
    "ROOT_PATH": "ASGI root path when the API is served under a prefix by a proxy.",
    "PREFIX_PATH": "Path prefix of the API's own router.",
    "USE_API_HYDRATE": "Hydrate items in the API instead of in pgstac.",
    "EXCLUDE_HYDRATE_MARKERS": "With API hydration: drop pgstac's do-not-merge markers.",
    "ENABLE_METRICS": "Prometheus metrics at `/_mgmt/metrics` (needs upstream's `metrics` "
    "extra, not installed).",
    "INVALID_ID_CHARS": "Characters refused in written item and collection ids (JSON list).",
    "BASE_ITEM_CACHE": "Class caching collection base items (not for the environment).",
    "CORS_ORIGINS": "Allowed CORS origins, comma separated.",
    "CORS_ORIGIN_REGEX": "Allowed CORS origins as a regular expression (not with `*`).",
    "CORS_METHODS": "Allowed CORS methods, comma separated.",
    "CORS_CREDENTIALS": "Allow credentials in CORS requests.",
    "CORS_HEADERS": "Allowed CORS headers, comma separated.",
    "UVICORN_ROOT_PATH": "Root path uvicorn is told about.",
    "TESTING": "Upstream's test mode; leave off.",
    # libpq variables as the database settings classes read them.
    "PGUSER": "Database user (libpq).",
    "PGPASSWORD": "Database password (libpq); the STAC API needs one even under trust "
    "authentication, where any value does.",
    "PGHOST": "Database host (libpq).",
    "PGPORT": "Database port (libpq).",
    "PGDATABASE": "Database name (libpq).",
    "DATABASE_URL": "Full PostgreSQL URL; replaces the PG* variables where read.",
    "DB_MIN_CONN_SIZE": "Connections the pool keeps open.",
    "DB_MAX_CONN_SIZE": "Most connections the pool opens.",
    "DB_MAX_QUERIES": "Queries a connection serves before it is replaced (API) / requests "
    "that may wait for a connection (tiler).",
    "DB_MAX_INACTIVE_CONN_LIFETIME": "Seconds an idle connection lives.",
    "DB_MAX_IDLE": "Seconds an idle connection lives.",
    "DB_NUM_WORKERS": "Background threads that maintain the pool.",
    "SERVER_SETTINGS": "PostgreSQL session settings (JSON): `search_path`, `application_name`.",
}

UPSTREAM_INTRO = """
Libraries read these themselves; EarthSignature sets none of them, it relies on them.
"""

# variable -> (read by, what it does)
UPSTREAM: dict[str, tuple[str, str]] = {
    "PGSSLMODE": ("libpq (pipeline, CLI, pypgstac, tiler)", "TLS to the database, e.g. "
                  "`require` or `verify-full` for a managed PostgreSQL."),
    "PGPASSFILE": ("libpq", "A `.pgpass` file instead of `PGPASSWORD`."),
    "PGCONNECT_TIMEOUT": ("libpq", "Seconds to wait for a database connection."),
    "AWS_ACCESS_KEY_ID": ("boto3 (publishing), GDAL (reading `s3://`)",
                          "Credentials of the S3 asset store."),
    "AWS_SECRET_ACCESS_KEY": ("boto3, GDAL", "Credentials of the S3 asset store."),
    "AWS_SESSION_TOKEN": ("boto3, GDAL", "Temporary credentials."),
    "AWS_DEFAULT_REGION": ("boto3", "Region of the bucket (`AWS_REGION` for GDAL)."),
    "AWS_REGION": ("GDAL", "Region of the bucket for GDAL's `/vsis3/`."),
    "AWS_S3_ENDPOINT": ("GDAL", "Host[:port] of an S3-compatible store (MinIO, Ceph) for "
                        "readers of `s3://` hrefs (tiler, any GDAL client)."),
    "AWS_HTTPS": ("GDAL", "`NO` for an S3-compatible store over plain HTTP."),
    "AWS_VIRTUAL_HOSTING": ("GDAL", "`FALSE` for path-style addressing (MinIO, Ceph)."),
    "AWS_NO_SIGN_REQUEST": ("GDAL", "`YES` to read public buckets without credentials."),
    "CPL_VSIL_CURL_USE_HEAD": ("GDAL", "`NO` where a store refuses anonymous HEAD requests "
                               "(seen with moto under a public-read bucket policy)."),
    "GDAL_DISABLE_READDIR_ON_OPEN": ("GDAL", "`EMPTY_DIR` saves a listing request per remote "
                                     "COG opened."),
    "EODAG_CFG_FILE": ("EODAG (discovery, fetch)", "EODAG's user configuration file "
                       "(provider credentials, download settings)."),
    "EODAG__<PROVIDER>__AUTH__CREDENTIALS__<KEY>": (
        "EODAG", "A provider credential without a configuration file, e.g. "
        "`EODAG__PEPS__AUTH__CREDENTIALS__USERNAME`."),
    "RQ_DASHBOARD_REDIS_URL": ("rq-dashboard", "The Redis it shows (the pipeline's)."),
    "RQ_DASHBOARD_USERNAME": ("rq-dashboard", "HTTP basic-auth user; unset: no auth."),
    "RQ_DASHBOARD_PASSWORD": ("rq-dashboard", "HTTP basic-auth password."),
}

COMPOSE_INTRO = """
Read by `docker compose` from the shell or from `infra/deploy/.env` (compose's own file, next
to `compose.yaml`); the services' settings go in `earthsig.env` (`env.example` lists the
usual ones). See [deployment.md](deployment.md).
"""

# variable -> (default, what it does); an empty default means required.
COMPOSE: dict[str, tuple[str, str]] = {
    "POSTGRES_PASSWORD": ("", "Password of the database user, given to the postgis image "
                          "and to every service as `PGPASSWORD`."),
    "POSTGRES_USER": ("earthsig", "Database user (postgis image; `PGUSER` of the services)."),
    "POSTGRES_DB": ("earthsig", "Database (postgis image; `PGDATABASE` of the services)."),
    "EARTHSIG_ENV_FILE": ("earthsig.env", "File with the services' own settings; optional."),
    "EARTHSIG_TAG": ("latest", "Tag of the images built and run."),
    "TRITON_VERSION": ("25.01", "Release of `nvcr.io/nvidia/tritonserver:<version>-py3`."),
    "EARTHSIG_PUBLISH_ADDRESS": ("127.0.0.1", "Host address the API, tiler and dashboard "
                                 "ports are published on; `0.0.0.0` opens them."),
    "EARTHSIG_API_PUBLISHED_PORT": ("8081", "Host port of the STAC API."),
    "EARTHSIG_TILER_PUBLISHED_PORT": ("8082", "Host port of the tiler."),
    "EARTHSIG_DASHBOARD_PUBLISHED_PORT": ("9181", "Host port of rq-dashboard."),
    "EARTHSIG_GRPC_PUBLISHED_PORT": ("50051", "Host port of the gRPC service."),
    "EARTHSIG_GRPC_HTTP_PUBLISHED_PORT": ("8085", "Host port of the gRPC service's HTTP "
                                          "bindings."),
    "EARTHSIG_GRPC_SERVER_NAME": ("localhost", "The name (or address) clients reach the gRPC "
                                  "service by: the one-shot `grpc-certs` puts it in the "
                                  "server certificate, with `localhost`, `127.0.0.1` and "
                                  "`grpc`."),
    "EARTHSIG_FETCH_WORKERS": ("2", "Workers on the fetch and discover queues."),
    "EARTHSIG_INFER_WORKERS": ("2", "Workers on the infer queue (they share Triton)."),
    "EARTHSIG_PUBLISH_WORKERS": ("1", "Workers on the publish queue."),
}
