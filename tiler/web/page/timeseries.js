// The time series at a clicked point: one mark per acquisition, as a small inline SVG.
// x: acquisition date (oldest left); y: the model's confidence; colour: the CLC class. An
// acquisition without a class there (cloud, shadow, nodata) is a hollow grey mark at the bottom.
(function () {
  'use strict';

  const SVG = 'http://www.w3.org/2000/svg';
  const W = 268; const H = 130;
  const PAD = { left: 26, right: 8, top: 8, bottom: 20 };
  const $ = (id) => document.getElementById(id);

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chart(series) {
    const times = series.map((o) => Date.parse(o.datetime));
    const t0 = Math.min(...times); const t1 = Math.max(...times);
    const x = (t) => (t1 === t0 ? (PAD.left + W - PAD.right) / 2
      : PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right));
    const y = (v) => H - PAD.bottom - (v / 100) * (H - PAD.top - PAD.bottom);
    const svg = el('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
      'aria-label': 'Land cover and confidence per acquisition' });
    svg.append(
      el('line', { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), stroke: '#999' }),
      el('line', { x1: PAD.left, y1: y(0), x2: PAD.left, y2: y(100), stroke: '#999' }),
      el('text', { x: PAD.left - 4, y: y(100) + 4, 'text-anchor': 'end', 'font-size': 9 }, '100'),
      el('text', { x: PAD.left - 4, y: y(0), 'text-anchor': 'end', 'font-size': 9 }, '0'),
      el('text', { x: PAD.left, y: H - 4, 'font-size': 9 }, series[0].datetime.slice(0, 10)),
      el('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end', 'font-size': 9 },
        series[series.length - 1].datetime.slice(0, 10)),
    );
    series.forEach((o, i) => {
      const known = o.clc_code !== null;
      const mark = el('circle', {
        class: 'ts-point', cx: x(times[i]).toFixed(2), cy: y(known ? (o.confidence ?? 0) : 0).toFixed(2),
        r: 4.5, fill: known ? o.color : 'none', stroke: known ? '#333' : '#888',
        'stroke-width': known ? 0.8 : 1.5, 'data-code': known ? o.clc_code : '',
        'data-date': o.datetime,
      });
      const what = known ? `${o.clc_code} ${o.name} (${o.confidence ?? 'n/a'} %)` : (o.cloud || 'no data');
      mark.append(el('title', {}, `${o.datetime.slice(0, 10)}: ${what}`));
      svg.append(mark);
    });
    return svg;
  }

  async function show(collection, lon, lat) {
    const section = $('timeseries');
    const params = new URLSearchParams({ lon: lon.toFixed(7), lat: lat.toFixed(7), collection });
    section.hidden = false;
    delete section.dataset.count;
    $('timeseries-chart').replaceChildren();
    $('timeseries-csv').href = `timeseries/point?${params}&format=csv`;
    $('timeseries-text').textContent = 'Loading…';
    const response = await fetch(`timeseries/point?${params}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      $('timeseries-text').textContent = response.status === 404 ? 'No acquisition here.'
        : `Error: ${body.description || body.detail || response.status}`;
      section.dataset.count = '0';
      return;
    }
    const found = await response.json();
    const clouded = found.series.filter((o) => o.clc_code === null).length;
    $('timeseries-text').textContent = `${found.count} acquisitions` +
      (clouded ? `, ${clouded} without a class here (cloud or no data)` : '');
    if (found.count) $('timeseries-chart').append(chart(found.series));
    section.dataset.count = String(found.count);
  }

  window.earthsigTimeseries = { show, chart };
}());
