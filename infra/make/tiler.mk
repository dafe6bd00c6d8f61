# Tiler web map: Leaflet, the Natural Earth basemap (world-atlas) and topojson-client (served by
# the tiler at /map), and playwright-core (browser tests), from
# tiler/web's lock file, and Debian's chromium for the browser tests.
TILER_WEB := tiler/web
TILER_WEB_STAMP := $(TILER_WEB)/node_modules/.installed-stamp
TILER_CHROMIUM_STAMP := $(VENV)/.chromium-stamp

# apt-get needs root; as another user, sudo without a password prompt (as infra/apt.py does).
TILER_SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

INSTALL_EXTRAS += $(TILER_WEB_STAMP) $(TILER_CHROMIUM_STAMP)

$(TILER_WEB_STAMP): $(TILER_WEB)/package.json $(TILER_WEB)/package-lock.json
	command -v npm >/dev/null || { $(TILER_SUDO) apt-get update -q && $(TILER_SUDO) apt-get install -y -q nodejs npm; }
	cd $(TILER_WEB) && npm ci --no-audit --no-fund
	touch $@

$(TILER_CHROMIUM_STAMP): $(STAMP)
	command -v chromium >/dev/null || { $(TILER_SUDO) apt-get update -q && \
		$(TILER_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	touch $@
