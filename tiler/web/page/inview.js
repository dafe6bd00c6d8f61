// Which legend entries the map shows right now: the colours of the loaded tiles, read back
// over the part of each tile inside the view, matched to the layer's legend. The tiles come
// from our own tiler (same origin), so their pixels can be read from a canvas. A colour no
// entry has (a border, antialiasing) matches nothing; the PNGs are drawn with "nearest", so
// every pixel of a class has its colour exactly (alpha below 255 may round by a unit or two).
(function () {
  'use strict';

  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });

  function close(a, b) {
    return Math.abs(a[0] - b[0]) <= 2 && Math.abs(a[1] - b[1]) <= 2
      && Math.abs(a[2] - b[2]) <= 2 && Math.abs(a[3] - b[3]) <= 3;
  }

  // Distinct RGBA values ([r, g, b, a]) of the visible parts of a tile layer's current tiles.
  function visibleColours(map, layer) {
    const found = new Set();
    const view = map.getPixelBounds();
    const zoom = map.getZoom();
    Object.values(layer._tiles || {}).forEach((tile) => {  // Leaflet keeps them by key
      const img = tile.el;
      if (!tile.current || !tile.loaded || !img.naturalWidth) return;
      // The tile's extent in the map's pixel space at the current zoom (tiles of another zoom
      // are scaled: over the native zoom or while zooming).
      const scale = map.getZoomScale(zoom, tile.coords.z);
      const size = layer.getTileSize().x * scale;
      const x0 = tile.coords.x * size; const y0 = tile.coords.y * size;
      const left = Math.max(view.min.x, x0); const right = Math.min(view.max.x, x0 + size);
      const top = Math.max(view.min.y, y0); const bottom = Math.min(view.max.y, y0 + size);
      if (right <= left || bottom <= top) return;
      const k = img.naturalWidth / size;  // map pixels -> image pixels
      const sx = Math.floor((left - x0) * k); const sy = Math.floor((top - y0) * k);
      const sw = Math.max(1, Math.ceil((right - x0) * k) - sx);
      const sh = Math.max(1, Math.ceil((bottom - y0) * k) - sy);
      canvas.width = sw; canvas.height = sh;
      context.clearRect(0, 0, sw, sh);
      context.drawImage(img, sx, sy, sw, sh, 0, 0, sw, sh);
      // One 32-bit word a pixel: a Set of numbers is far cheaper than one of strings.
      const words = new Uint32Array(context.getImageData(0, 0, sw, sh).data.buffer);
      for (let i = 0; i < words.length; i += 1) {
        if (words[i] >>> 24) found.add(words[i]);
      }
    });
    // Little-endian words: the bytes are r, g, b, a from the lowest.
    return [...found].map((w) => [w & 255, (w >>> 8) & 255, (w >>> 16) & 255, w >>> 24]);
  }

  // The entries (each with ``rgba``) whose colour is in the view, in the legend's order.
  function entriesInView(map, layer, entries) {
    const colours = visibleColours(map, layer);
    return entries.filter((entry) => colours.some((c) => close(c, entry.rgba)));
  }

  window.earthsigInView = { entriesInView, visibleColours };
}());
