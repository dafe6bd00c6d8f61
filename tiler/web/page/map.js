// EarthSignature web map: a layer of the catalog (land cover, cloud mask, confidence, changes)
// over a Natural Earth basemap, its legend of what is in view, the acquisitions in view to
// step through, place search, click-to-identify, and the view in the address (a permalink).
// Every URL is relative to /map, so the page works behind a proxy prefix and fully offline.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  // The map's own zoom range, so that a layer's minzoom never clamps it: the basemap shows
  // at every zoom, a layer only where it is drawn.
  const map = L.map('map', { minZoom: 2, maxZoom: 19 }).setView([46.5, 2.5], 5);
  const state = { config: null, def: null, layer: null, tilejson: null, polygons: null,
                  polygonsData: null, coverage: null, legend: [] };
  // The polygons (vectors of the land cover) are drawn from this zoom on: one view then spans
  // a fraction of a product (the tiler answers at most 1.5 square degrees at once).
  const POLYGONS_MINZOOM = 11;
  const EUROPE_CENTRE = [50.5, 10.0];
  const EUROPE_ZOOM = 4;
  const LATEST = '';
  let resolveReady;
  // Tests (and curious users) wait on this: resolved once the first layer is drawn (or has
  // nothing to draw at this zoom).
  window.earthsig = {
    map,
    ready: new Promise((resolve) => { resolveReady = resolve; }),
    get layer() { return state.layer; },
    get polygons() { return state.polygonsData; },
    get coverage() { return state.coverage; },
    get legend() { return state.legend; },
    legendUpdated: 0,
    coverageUpdated: 0,
  };

  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const error = new Error(body.description || body.detail || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function viewBbox() {
    const b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6))
      .join(',');
  }

  // The date filter: the map as of the end of the chosen acquisition day (latest: none).
  function datetime() {
    const day = $('date').value;
    return day === LATEST ? null : `../${day}T23:59:59Z`;
  }

  function filters() {
    const params = new URLSearchParams();
    if (datetime()) params.set('datetime', datetime());
    if ($('mask-clouds').checked) params.set('mask_clouds', 'true');
    return params;
  }

  function collectionPath(collection) {
    return `collections/${encodeURIComponent(collection || state.def.collection)}`;
  }

  // Land cover is read (identify, time series) from the landcover layer's collection even
  // while another layer is shown.
  function landcoverCollection() {
    const landcover = state.config.layers.find((l) => l.id === 'landcover');
    return (landcover || state.def).collection;
  }

  // ---- the address: #zoom/lat/lon[/date/layer], written after each change, read on load.
  function readHash() {
    const parts = window.location.hash.slice(1).split('/');
    const view = parts.slice(0, 3).map(Number);
    return {
      view: parts.length >= 3 && view.every(Number.isFinite) ? view : null,
      date: parts[3] && /^\d{4}-\d{2}-\d{2}$/.test(parts[3]) ? parts[3] : LATEST,
      layer: parts[4] ? decodeURIComponent(parts[4]) : null,
    };
  }

  function writeHash() {
    const c = map.getCenter();
    const date = $('date').value === LATEST ? 'latest' : $('date').value;
    const layer = state.def ? encodeURIComponent(state.def.id) : '';
    window.history.replaceState(null, '', `#${map.getZoom()}/${c.lat.toFixed(6)}/` +
      `${c.lng.toFixed(6)}/${date}/${layer}`);
  }

  function showStatus(text) { $('status').textContent = text; }

  function zoomHint() {
    const tj = state.tilejson;
    if (!tj) return;
    const low = map.getZoom() < tj.minzoom;
    const why = datetime() ? ' (a date\'s map is drawn from there on)' : '';
    showStatus(low ? `Zoom in to level ${tj.minzoom} or more to see ${state.def.title.toLowerCase()}${why}.` : '');
  }

  // ---- legend: the entries of the layer's colours that the tiles in view show.
  function showLegend() {
    const def = state.def;
    $('legend-title').textContent = def.legend_title;
    const list = $('legend');
    if (def.legend_kind === 'ramp') {
      const bar = document.createElement('li');
      bar.className = 'ramp';
      bar.innerHTML = '<span class="ramp-bar"></span><span class="ramp-low"></span><span class="ramp-high"></span>';
      bar.querySelector('.ramp-bar').style.background = `linear-gradient(to right, ${def.ramp.colors.join(', ')})`;
      bar.querySelector('.ramp-low').textContent = def.ramp.low;
      bar.querySelector('.ramp-high').textContent = def.ramp.high;
      list.replaceChildren(bar);
      $('legend-note').textContent = '';
      state.legend = [];
    } else {
      const inView = state.layer && map.getZoom() >= state.tilejson.minzoom
        ? window.earthsigInView.entriesInView(map, state.layer, def.classes) : [];
      list.replaceChildren(...inView.map((entry) => {
        const item = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = entry.color;
        item.append(swatch, `${entry.code} ${entry.name}`);
        return item;
      }));
      $('legend-note').textContent = inView.length ? 'Classes in view' : 'Nothing of this layer in view';
      state.legend = inView.map((entry) => `${entry.code} ${entry.name}`);
    }
    window.earthsig.legendUpdated += 1;
  }
  const refreshLegend = debounce(showLegend, 150);

  // ---- coverage: the acquisitions in view (the date control) and the nearest data.
  function fillDates(dates) {
    const select = $('date');
    const chosen = select.value;
    const days = [...new Set([...dates, ...(chosen === LATEST ? [] : [chosen])])].sort();
    const options = days.map((d) => new Option(d, d));
    options.push(new Option('Latest', LATEST));
    select.replaceChildren(...options);
    select.value = chosen;
    const at = select.selectedIndex;
    $('date-prev').disabled = at <= 0;
    $('date-next').disabled = at >= select.options.length - 1;
    $('date-count').textContent = dates.length
      ? `${dates.length} acquisition${dates.length > 1 ? 's' : ''} in view` : 'No acquisition in view';
  }

  function showEmpty(coverage) {
    const box = $('empty');
    const what = state.def.title.toLowerCase();
    const asOf = datetime() ? ` as of ${$('date').value}` : '';
    if (coverage.in_view) { box.hidden = true; return; }
    box.hidden = false;
    const near = coverage.nearest;
    $('go-nearest').hidden = !near;
    $('empty-text').textContent = near
      ? `No ${what}${asOf} in this view. The nearest is ${Math.round(near.distance_km)} km ` +
        `${near.direction === 'here' ? 'away' : `to the ${near.direction}`}.`
      : `No ${what}${asOf} in the catalog yet.`;
    box.dataset.distanceKm = near ? String(near.distance_km) : '';
    box.dataset.direction = near ? near.direction : '';
  }

  async function refreshCoverage() {
    if (!state.def) return;
    const params = filters();
    params.delete('mask_clouds');
    params.set('bbox', viewBbox());
    const coverage = await getJSON(`${collectionPath()}/coverage?${params}`);
    state.coverage = coverage;
    fillDates(coverage.dates);
    showEmpty(coverage);
    window.earthsig.coverageUpdated += 1;
  }
  const coverageLater = debounce(() => refreshCoverage().catch(
    (error) => showStatus(`Could not read the coverage: ${error.message}`)), 200);

  function goNearest() {
    const near = state.coverage && state.coverage.nearest;
    if (!near) return;
    const [west, south, east, north] = near.bbox;
    const bounds = L.latLngBounds([south, west], [north, east]);
    const zoom = Math.max(map.getBoundsZoom(bounds), state.tilejson ? state.tilejson.minzoom : 0);
    map.setView(bounds.getCenter(), Math.min(zoom, 16), { animate: false });
  }

  // ---- the layer's tiles.
  async function showLayer(fit) {
    const def = state.def;
    const params = new URLSearchParams(def.params);
    filters().forEach((value, key) => params.set(key, value));
    params.set('tile_format', 'png');
    params.set('tilesize', '256');
    const tj = await getJSON(`${collectionPath()}/WebMercatorQuad/tilejson.json?${params}`);
    const [west, south, east, north] = tj.bounds;
    const bounds = L.latLngBounds([south, west], [north, east]);
    const layer = L.tileLayer(tj.tiles[0], {
      minZoom: tj.minzoom, maxNativeZoom: tj.maxzoom, maxZoom: 19, bounds,
      opacity: Number($('opacity').value), tileSize: 256,
    });
    layer.on('load', () => { resolveReady(); refreshLegend(); });
    // Move first (unanimated), then add the layer: an animated move started on the next frame
    // would abort the tiles being loaded.
    const { view } = readHash();
    if (fit && view) {
      map.setView([view[1], view[2]], view[0], { animate: false });
    } else if (fit && tj.minzoom <= EUROPE_ZOOM) {
      // The low zooms are drawn (the collection's pyramid): open on Europe.
      map.setView(EUROPE_CENTRE, EUROPE_ZOOM, { animate: false });
    } else if (fit) {
      const zoom = Math.max(map.getBoundsZoom(bounds), tj.minzoom);
      map.setView(bounds.getCenter(), zoom, { animate: false });
    }
    if (state.layer) map.removeLayer(state.layer);
    state.layer = layer.addTo(map);
    state.tilejson = tj;
    zoomHint();
    writeHash();
    // Below the layer's zoom range no tile loads (and no 'load' comes): ready as it is.
    if (map.getZoom() < tj.minzoom) resolveReady();
    showLegend();
    await refreshCoverage();
  }

  // The polygons of the view as GeoJSON, each in its class colour, over the raster tiles.
  async function showPolygons() {
    if (state.polygons) { map.removeLayer(state.polygons); state.polygons = null; }
    state.polygonsData = null;
    if (!$('polygons').checked) return;
    if (map.getZoom() < POLYGONS_MINZOOM) {
      showStatus(`Zoom in to level ${POLYGONS_MINZOOM} or more to see the polygons.`);
      return;
    }
    const params = filters();
    params.delete('mask_clouds');  // polygons have no cloud mask of their own
    params.set('bbox', viewBbox());
    const data = await getJSON(`${collectionPath(landcoverCollection())}/polygons.geojson?${params}`);
    if (!$('polygons').checked) return;  // unticked while loading
    state.polygons = L.geoJSON(data, {
      style: (f) => ({ color: '#333', weight: 1, fillColor: f.properties.color,
                       fillOpacity: 0.6 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.clc_code} ${f.properties.name}`),
    }).addTo(map);
    state.polygonsData = data;
  }

  async function identify(event) {
    const { lat, lng } = event.latlng;
    const collection = landcoverCollection();
    // The series of every acquisition at the point, drawn beside the identify text.
    window.earthsigTimeseries.show(collection, lng, lat);
    const url = `${collectionPath(collection)}/identify/${lng.toFixed(7)},${lat.toFixed(7)}?${filters()}`;
    const panel = $('identify');
    const text = $('identify-text');
    panel.hidden = false;
    delete panel.dataset.gridCode;
    try {
      const found = await getJSON(url);
      const confidence = found.confidence === null ? 'n/a' : `${found.confidence} %`;
      text.textContent = `${found.clc_code} ${found.name} (confidence ${confidence}) — ` +
        `item ${found.item}, ${found.datetime || 'undated'}`;
      panel.dataset.gridCode = String(found.grid_code);
      panel.dataset.clcCode = String(found.clc_code);
      L.popup().setLatLng(event.latlng).setContent(`${found.clc_code} ${found.name}`).openOn(map);
    } catch (error) {
      text.textContent = error.status === 404 ? 'No land cover here.' : `Error: ${error.message}`;
    }
  }

  // ---- place search over the tiler's gazetteer.
  function placeSearch() {
    const list = $('place-results');
    let asked = 0;
    async function lookup() {
      const q = $('place').value.trim();
      const mine = ++asked;
      if (!q) { list.replaceChildren(); return; }
      const found = await getJSON(`map/places?q=${encodeURIComponent(q)}&limit=8`);
      if (mine !== asked) return;
      list.replaceChildren(...found.map((place) => {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `${place.name}, ${place.country}`;
        button.addEventListener('click', () => {
          map.setView([place.lat, place.lon], 11, { animate: false });
          list.replaceChildren();
        });
        item.append(button);
        return item;
      }));
      if (!found.length) {
        const none = document.createElement('li');
        none.textContent = `No place called "${q}"`;
        list.replaceChildren(none);
      }
    }
    const later = debounce(() => lookup().catch((e) => showStatus(`Search failed: ${e.message}`)), 200);
    $('place').addEventListener('input', later);
    $('search').addEventListener('submit', (event) => {
      event.preventDefault();
      lookup().then(() => {
        const first = list.querySelector('button');
        if (first) first.click();
      }).catch((e) => showStatus(`Search failed: ${e.message}`));
    });
  }

  function stepDate(by) {
    const select = $('date');
    const at = select.selectedIndex + by;
    if (at < 0 || at >= select.options.length) return;
    select.selectedIndex = at;
    select.dispatchEvent(new Event('change'));
  }

  function report(what) {
    return (error) => showStatus(`Could not load ${what}: ${error.message}`);
  }

  async function start() {
    const config = await getJSON('map/config.json');
    state.config = config;
    if (config.basemap_url) {
      L.tileLayer(config.basemap_url, { maxZoom: 19 }).addTo(map);
    } else {
      window.earthsigBasemap.drawAtlas(map).catch(report('the basemap'));
    }
    const cities = window.earthsigBasemap.cityLabels(map, () => $('labels').checked);
    $('labels').addEventListener('change', () => cities.refresh().catch(() => {}));
    cities.refresh().catch(() => {});
    placeSearch();
    if (!config.layers.length) {
      showStatus('No collection with a render in the catalog yet.');
      resolveReady();
      return;
    }
    const hash = readHash();
    $('layer').replaceChildren(...config.layers.map((l) => new Option(l.title, l.id)));
    state.def = config.layers.find((l) => l.id === hash.layer) || config.layers[0];
    $('layer').value = state.def.id;
    fillDates(hash.date === LATEST ? [] : [hash.date]);
    $('date').value = hash.date;
    $('layer').addEventListener('change', () => {
      state.def = config.layers.find((l) => l.id === $('layer').value);
      showLayer(false).catch(report('the layer'));
    });
    $('date').addEventListener('change', () => showLayer(false).catch(report('the date')));
    $('date-prev').addEventListener('click', () => stepDate(-1));
    $('date-next').addEventListener('click', () => stepDate(1));
    $('go-nearest').addEventListener('click', goNearest);
    $('mask-clouds').addEventListener('change', () => showLayer(false).catch(report('the layer')));
    $('opacity').addEventListener('input', () => state.layer && state.layer.setOpacity(
      Number($('opacity').value)));
    $('polygons').addEventListener('change', () => showPolygons().catch(report('the polygons')));
    map.on('zoomend', zoomHint);
    map.on('moveend', () => {
      writeHash();
      refreshLegend();
      coverageLater();
      if ($('polygons').checked) showPolygons().catch(report('the polygons'));
    });
    map.on('click', identify);
    await showLayer(true);
  }

  start().catch((error) => { showStatus(`Could not load the map: ${error.message}`); resolveReady(); });
}());
