"""The operators' HTTP endpoint: the pipeline's status as JSON (what `earthsig status --json`
prints: ``ingest.orchestration.report``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis import Redis
from redis.exceptions import RedisError

from ingest.orchestration.report import status_report
from ingest.settings import IngestSettings


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    app = FastAPI(title="EarthSignature pipeline status", docs_url="/docs")
    connection = Redis.from_url(settings.redis_url, socket_timeout=5)

    @app.get("/status")
    def status(max_failures: int = 10) -> JSONResponse:
        """Jobs per state and stage, products published per hour and day, latest failures;
        per sensing day and stage, the last discovery runs, and the alert (200 either way:
        the alert is a field, ``alert.active``, so a probe reads why)."""
        try:
            report = status_report(connection, settings, max_failures=max_failures)
        except RedisError as exc:
            return JSONResponse({"code": "RedisUnavailable", "description": str(exc)}, 503)
        return JSONResponse(report)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            connection.ping()
        except RedisError as exc:
            return JSONResponse({"redis": "down", "description": str(exc)}, 503)
        return JSONResponse({"redis": "up"})

    return app
