// Drives the web map through its features in headless Chromium for
// tests/tiler/test_web_map_features.py; prints JSON, writes screenshots into cfg.out.
// Usage: node web_map_probe.cjs '{"url", "chromium", "profile", "out", "centre": [lon, lat],
//                                "left": [lon, lat], "right": [lon, lat], "paris": [lon, lat]}'
'use strict';
const path = require('path');
const { chromium } = require(path.join(process.env.TILER_WEB_MODULES, 'playwright-core'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

const step = (name) => process.stderr.write(`step: ${name}\n`);

// Tiles loaded and faded in, the legend (debounced) redrawn after them.
async function settle(page) {
  await page.waitForTimeout(300);
  await page.waitForFunction(() => window.earthsig.layer && !window.earthsig.layer.isLoading());
  await page.waitForTimeout(700);
}

// After a move: the coverage (debounced) read again, and the tiles settled.
async function moved(page, before) {
  await page.waitForFunction((n) => window.earthsig.coverageUpdated > n, before,
    { timeout: 30000 });
  await settle(page);
}

async function setView(page, lonLat, zoom) {
  const before = await page.evaluate(() => window.earthsig.coverageUpdated);
  await page.evaluate(({ lonLat, zoom }) => window.earthsig.map
    .setView([lonLat[1], lonLat[0]], zoom, { animate: false }), { lonLat, zoom });
  await moved(page, before);
}

async function pick(page, selector, value) {
  const before = await page.evaluate(() => window.earthsig.coverageUpdated);
  await page.locator(selector).selectOption(value);
  await moved(page, before);
}

async function click(page, selector) {
  const before = await page.evaluate(() => window.earthsig.coverageUpdated);
  await page.locator(selector).click();
  await moved(page, before);
}

const point = (page, lonLat) => page.evaluate((ll) => window.earthsig.map
  .latLngToContainerPoint([ll[1], ll[0]]), lonLat);

const snapshot = async (page, name, points) => {
  await page.locator('#map').screenshot({ path: path.join(page.out, `${name}.png`) });
  const out = { legend: await page.evaluate(() => window.earthsig.legend),
                legendItems: await page.$$eval('#legend li', (lis) => lis.map((li) => li.textContent)),
                hash: await page.evaluate(() => window.location.hash),
                date: await page.$eval('#date', (el) => el.value),
                dates: await page.$$eval('#date option', (os) => os.map((o) => o.value)),
                layer: await page.$eval('#layer', (el) => el.value),
                zoom: await page.evaluate(() => window.earthsig.map.getZoom()),
                tiles: await page.$$eval('.leaflet-tile-pane img.leaflet-tile-loaded',
                  (imgs) => imgs.map((i) => i.src)) };
  for (const [key, lonLat] of Object.entries(points || {})) out[key] = await point(page, lonLat);
  return out;
};

async function open(context, cfg, hash, result, phase) {
  const page = await context.newPage();
  page.out = cfg.out;
  page.on('console', (m) => {
    process.stderr.write(`console ${m.type()}: ${m.text()}\n`);
    if (m.type() === 'error') result.errors.push(m.text());
  });
  page.on('pageerror', (e) => result.errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith(cfg.url) && !r.url().startsWith('data:')) result.foreign.push(r.url());
  });
  page.on('response', (r) => {
    process.stderr.write(`response ${r.status()} ${r.url()}\n`);
    if (r.status() >= 400) result.refused.push({ phase: phase.name, status: r.status(), url: r.url() });
    if (r.url().includes('/tiles/')) result.tileRequests.push({ phase: phase.name, url: r.url() });
  });
  await page.goto(`${cfg.url}/map${hash}`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.earthsig !== undefined);
  await page.evaluate(() => window.earthsig.ready);
  await page.waitForFunction(() => window.earthsig.coverageUpdated > 0, null, { timeout: 30000 });
  return page;
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({ executablePath: cfg.chromium, headless: true,
                                          args: FLAGS });
  const result = { errors: [], foreign: [], refused: [], tileRequests: [] };
  const phase = { name: 'open' };
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 },
                                               deviceScaleFactor: 1 });
    // 1. No address: Europe at zoom 4 from the pyramid, over the Natural Earth basemap.
    phase.name = 'z4';
    const page = await open(context, cfg, '', result, phase);
    step('opened');
    await page.locator('#labels').uncheck();  // labels would cover the pixels looked at
    await settle(page);
    result.europe = await snapshot(page, 'europe', { land: cfg.land, sea: cfg.sea,
                                                      arctic: cfg.arctic });
    // 2. Zoom 12 over the data: tiles from the items.
    phase.name = 'z12';
    await setView(page, cfg.centre, 12);
    result.z12 = await snapshot(page, 'z12', {});
    // ... and 16, the items' native zoom.
    phase.name = 'z16';
    await setView(page, cfg.left, 16);
    result.z16 = await snapshot(page, 'z16', {});
    // 3. Zoom 14 over the whole square: the legend of the latest map, then step back in time.
    phase.name = 'dates';
    await setView(page, cfg.centre, 14);
    result.latest = await snapshot(page, 'latest', { left: cfg.left, right: cfg.right });
    await page.screenshot({ path: path.join(cfg.out, 'page.png') });  // for people to look at
    step('latest');
    await click(page, '#date-prev');
    result.july = await snapshot(page, 'july', { left: cfg.left, right: cfg.right });
    await click(page, '#date-prev');
    result.june = await snapshot(page, 'june', { left: cfg.left, right: cfg.right });
    result.prevDisabled = await page.$eval('#date-prev', (b) => b.disabled);
    step('june');
    // 4. Only the left half in view: its one class.
    await setView(page, cfg.left, 17);
    result.leftOnly = await snapshot(page, 'left-only', {});
    // 5. Layers, on the latest map over the whole square.
    phase.name = 'layers';
    await pick(page, '#date', '');
    await setView(page, cfg.centre, 14);
    await pick(page, '#layer', 'cloudmask');
    result.cloudmask = await snapshot(page, 'cloudmask', { left: cfg.left, right: cfg.right });
    await pick(page, '#layer', 'confidence');
    result.confidence = await snapshot(page, 'confidence', { left: cfg.left, right: cfg.right });
    result.ramp = await page.$$eval('#legend li.ramp', (lis) => lis.map((li) => li.textContent));
    await pick(page, '#layer', 'landcover');
    step('layers');
    // 6. An empty view (Paris): the message, then the button to the nearest data.
    phase.name = 'empty';
    await setView(page, cfg.paris, 12);
    await page.waitForSelector('#empty:not([hidden])');
    result.empty = await page.$eval('#empty', (el) => ({ text: el.textContent,
      distanceKm: Number(el.dataset.distanceKm), direction: el.dataset.direction }));
    await page.locator('#map').screenshot({ path: path.join(cfg.out, 'empty.png') });
    await click(page, '#go-nearest');
    result.afterGo = { hidden: await page.$eval('#empty', (el) => el.hidden),
                       centre: await page.evaluate(() => window.earthsig.map.getCenter()),
                       inView: await page.evaluate(() => window.earthsig.coverage.in_view) };
    step('empty');
    // 7. Place search.
    phase.name = 'search';
    await page.locator('#place').fill('Toulouse');
    await page.waitForSelector('#place-results button');
    result.places = await page.$$eval('#place-results button', (bs) => bs.map((b) => b.textContent));
    const before = await page.evaluate(() => window.earthsig.coverageUpdated);
    await page.locator('#place-results button').first().click();
    await page.waitForFunction((n) => window.earthsig.coverageUpdated > n, before);
    result.searched = { centre: await page.evaluate(() => window.earthsig.map.getCenter()),
                        zoom: await page.evaluate(() => window.earthsig.map.getZoom()) };
    await page.close();
    step('search');
    // 8. A permalink restores view, date and layer.
    phase.name = 'permalink';
    const [lon, lat] = cfg.centre;
    const linked = await open(context, cfg, `#14/${lat}/${lon}/2024-06-01/cloudmask`, result, phase);
    await settle(linked);
    result.permalink = await snapshot(linked, 'permalink', {});
    await linked.close();
    await context.close();
    // 9. A narrow screen.
    phase.name = 'narrow';
    const phone = await browser.newContext({ viewport: { width: 400, height: 800 },
                                             deviceScaleFactor: 1 });
    const narrow = await open(phone, cfg, `#14/${lat}/${lon}/latest/landcover`, result, phase);
    await settle(narrow);
    await narrow.screenshot({ path: path.join(cfg.out, 'narrow.png') });
    result.narrow = await narrow.evaluate(() => {
      const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
      return { map: box('map'), panel: box('panel'), legend: box('legend'),
               scrollWidth: document.documentElement.scrollWidth };
    });
    result.narrow.legend.items = await narrow.evaluate(() => window.earthsig.legend);
    await phone.close();
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => { process.stderr.write(String(error.stack || error)); process.exit(1); });
