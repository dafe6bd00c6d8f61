// EarthSignature web map: the latest land cover of a collection, its legend, click-to-identify.
// Every URL is relative to /map, so the page works behind a proxy prefix and fully offline.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const map = L.map('map').setView([46.5, 2.5], 5);
  const state = { layer: null, tilejson: null, legendUrl: null, polygons: null,
                  polygonsData: null };
  // The polygons (vectors of the land cover) are drawn from this zoom on: one view then spans
  // a fraction of a product (the tiler answers at most 1.5 square degrees at once).
  const POLYGONS_MINZOOM = 11;
  const EUROPE_CENTRE = [50.5, 10.0];
  const EUROPE_ZOOM = 4;
  let resolveReady;
  // Tests (and curious users) wait on this: resolved once the first layer has drawn.
  window.earthsig = {
    map,
    ready: new Promise((resolve) => { resolveReady = resolve; }),
    get layer() { return state.layer; },
    get polygons() { return state.polygonsData; },
  };

  async function getJSON(url) {
    const response = await fetch(url);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const error = new Error(body.detail || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function filters() {
    const params = new URLSearchParams();
    // The date picks "the latest land cover as of that day": items up to its end.
    if ($('date').value) params.set('datetime', `../${$('date').value}T23:59:59Z`);
    if ($('mask-clouds').checked) params.set('mask_clouds', 'true');
    return params;
  }

  function collectionPath() {
    return `collections/${encodeURIComponent($('collection').value)}`;
  }

  // A view in the address (#zoom/lat/lon) is kept and updated, so a view can be shared.
  function hashView() {
    const parts = window.location.hash.slice(1).split('/').map(Number);
    return parts.length === 3 && parts.every(Number.isFinite) ? parts : null;
  }

  function showStatus(text) { $('status').textContent = text; }

  function zoomHint() {
    const tj = state.tilejson;
    const low = tj && map.getZoom() < tj.minzoom;
    showStatus(low ? `Zoom in to level ${tj.minzoom} or more to see the land cover.` : '');
  }

  // The CLC legend lists only the classes the collection's maps can contain (what its
  // models can write), not all 44.
  async function showLegend(name) {
    const params = new URLSearchParams();
    if (name === 'clc') params.set('collection', $('collection').value);
    const url = `legends/${encodeURIComponent(name)}?${params}`;
    if (url === state.legendUrl) return;
    const legend = await getJSON(url);
    $('legend-title').textContent = legend.title;
    $('legend').replaceChildren(...legend.entries.map((entry) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = entry.color;
      item.append(swatch, `${entry.code} ${entry.name}`);
      return item;
    }));
    state.legendUrl = url;
  }

  async function showCollection(fit) {
    const params = filters();
    params.set('tile_format', 'png');
    params.set('tilesize', '256');
    const tj = await getJSON(`${collectionPath()}/WebMercatorQuad/tilejson.json?${params}`);
    const [west, south, east, north] = tj.bounds;
    const bounds = L.latLngBounds([south, west], [north, east]);
    const layer = L.tileLayer(tj.tiles[0], {
      minZoom: tj.minzoom, maxNativeZoom: tj.maxzoom, maxZoom: 20, bounds,
      opacity: Number($('opacity').value), tileSize: 256,
    });
    layer.once('load', () => resolveReady());
    // Move first, then add the layer. Adding a layer whose minZoom is above the map's zoom
    // makes Leaflet clamp the zoom with an *animated* setZoom, started on the next frame around
    // the old centre: it would undo a move made after addTo, abort the tiles being loaded and,
    // outside the layer's bounds, leave it loading forever. One unanimated move, and a wide
    // collection opens at the lowest zoom drawn, not below.
    const view = hashView();
    if (fit && view) {
      map.setView([view[1], view[2]], Math.max(view[0], tj.minzoom), { animate: false });
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
    // The legend of the colormap the tiles are drawn with (the collection's default render).
    await showLegend(new URL(tj.tiles[0]).searchParams.get('colormap_name') || 'clc');
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
    const b = map.getBounds();
    const params = filters();
    params.delete('mask_clouds');  // polygons have no cloud mask of their own
    params.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map((v) => v.toFixed(6)).join(','));
    const data = await getJSON(`${collectionPath()}/polygons.geojson?${params}`);
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
    // The series of every acquisition at the point, drawn beside the identify text.
    window.earthsigTimeseries.show($('collection').value, lng, lat);
    const url = `${collectionPath()}/identify/${lng.toFixed(7)},${lat.toFixed(7)}?${filters()}`;
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

  async function start() {
    const config = await getJSON('map/config.json');
    if (config.basemap_url) {
      L.tileLayer(config.basemap_url, { maxZoom: 19 }).addTo(map);
    }
    if (!config.collections.length) {
      showStatus('No collection with a render in the catalog yet.');
      return;
    }
    $('collection').replaceChildren(...config.collections.map((c) => new Option(c.title, c.id)));
    $('collection').addEventListener('change', () => showCollection(true));
    $('date').addEventListener('change', () => showCollection(false));
    $('mask-clouds').addEventListener('change', () => showCollection(false));
    $('opacity').addEventListener('input', () => state.layer && state.layer.setOpacity(
      Number($('opacity').value)));
    map.on('zoomend', zoomHint);
    $('polygons').addEventListener('change', () => showPolygons().catch(
      (error) => showStatus(`Could not load the polygons: ${error.message}`)));
    map.on('moveend', () => $('polygons').checked && showPolygons().catch(
      (error) => showStatus(`Could not load the polygons: ${error.message}`)));
    map.on('moveend', () => {
      const c = map.getCenter();
      window.history.replaceState(null, '', `#${map.getZoom()}/${c.lat.toFixed(6)}/${c.lng.toFixed(6)}`);
    });
    map.on('click', identify);
    await showCollection(true);
  }

  start().catch((error) => showStatus(`Could not load the map: ${error.message}`));
}());
