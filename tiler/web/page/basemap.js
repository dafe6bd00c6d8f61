// The basemap, from data the tiler ships (nothing downloaded at run time): Natural Earth's
// land, coastlines and country borders (1:50m, the world-atlas npm package's TopoJSON, turned
// into GeoJSON by topojson-client) drawn on a canvas under the land cover, and the most
// populous cities of the view (the tiler's gazetteer, /map/cities) as labels above it.
(function () {
  'use strict';

  const ATLAS = 'map/vendor/world-atlas/countries-50m.json';
  // Colours the tests look for (tests/tiler/test_basemap.py): keep them in step.
  const STYLE = {
    land: { stroke: false, fillColor: '#ece6d9', fillOpacity: 1, interactive: false },
    coast: { color: '#6d8fab', weight: 1, opacity: 1, interactive: false },
    border: { color: '#9b8aa0', weight: 1, opacity: 1, dashArray: '4 3', interactive: false },
  };

  // A line that crosses the antimeridian jumps from 180 to -180 degrees: drawn as is, it
  // would cross the whole map (Chukotka's coast as a band over the Arctic). Continue it
  // past 180 instead, as the sphere does.
  function unwrap(line) {
    let offset = 0;
    return line.map((point, i) => {
      if (i > 0) {
        const step = point[0] - line[i - 1][0];
        if (step > 180) offset -= 360;
        if (step < -180) offset += 360;
      }
      return [point[0] + offset, point[1]];
    });
  }

  function unwrapped(geometry) {
    const c = geometry.coordinates;
    switch (geometry.type) {
      case 'LineString': return { ...geometry, coordinates: unwrap(c) };
      case 'MultiLineString':
      case 'Polygon': return { ...geometry, coordinates: c.map(unwrap) };
      case 'MultiPolygon': return { ...geometry, coordinates: c.map((p) => p.map(unwrap)) };
      default: return geometry;
    }
  }

  function fixed(geojson) {
    if (geojson.type === 'FeatureCollection') {
      return { ...geojson, features: geojson.features.map(fixed) };
    }
    if (geojson.type === 'Feature') return { ...geojson, geometry: unwrapped(geojson.geometry) };
    return unwrapped(geojson);
  }

  function pane(map, name, zIndex) {
    const created = map.createPane(name);
    created.style.zIndex = String(zIndex);
    created.style.pointerEvents = 'none';
    return name;
  }

  // The atlas once, as three GeoJSON layers on their own pane under Leaflet's tile pane (200).
  async function drawAtlas(map) {
    const response = await fetch(ATLAS);
    if (!response.ok) throw new Error(`${response.status} ${ATLAS}`);
    const topo = await response.json();
    const name = pane(map, 'basemap', 150);
    const renderer = L.canvas({ pane: name, padding: 0.5 });
    const land = fixed(topojson.feature(topo, topo.objects.land));
    // Borders: arcs shared by two countries; coastlines: arcs of one only (the land's edge).
    const borders = fixed(topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b));
    const coast = fixed(topojson.mesh(topo, topo.objects.countries, (a, b) => a === b));
    const layers = [
      L.geoJSON(land, { pane: name, renderer, style: () => STYLE.land }),
      L.geoJSON(coast, { pane: name, renderer, style: () => STYLE.coast }),
      L.geoJSON(borders, { pane: name, renderer, style: () => STYLE.border }),
    ];
    layers.forEach((layer) => layer.addTo(map));
    return L.layerGroup(layers);
  }

  // City labels: few when zoomed out, more when in; redrawn after each move.
  function cityLabels(map, enabled) {
    const name = pane(map, 'cities', 450);
    const group = L.layerGroup().addTo(map);
    let asked = 0;
    async function refresh() {
      const mine = ++asked;
      if (!enabled()) { group.clearLayers(); return; }
      const b = map.getBounds();
      const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map((v) => v.toFixed(4)).join(',');
      const limit = map.getZoom() < 6 ? 12 : 25;
      const response = await fetch(`map/cities?bbox=${bbox}&limit=${limit}`);
      if (!response.ok || mine !== asked) return;
      const cities = await response.json();
      group.clearLayers();
      cities.forEach((city) => {
        const icon = L.divIcon({ className: 'city-label', html: `<span></span>${city.name}`,
                                 iconSize: null, iconAnchor: [4, 4] });
        L.marker([city.lat, city.lon], { pane: name, icon, interactive: false,
                                         keyboard: false }).addTo(group);
      });
    }
    map.on('moveend', () => refresh().catch(() => {}));
    return { refresh, group };
  }

  window.earthsigBasemap = { drawAtlas, cityLabels, STYLE };
}());
