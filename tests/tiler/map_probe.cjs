// Drives the web map in headless Chromium for tests/tiler/test_web_map.py; prints JSON.
// Usage: node map_probe.cjs '{"url", "lat", "lon", "zoom", "chromium", "profile", "out"}'
'use strict';
const path = require('path');
const { chromium } = require(path.join(process.env.TILER_WEB_MODULES, 'playwright-core'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

const step = (name) => process.stderr.write(`step: ${name}\n`);

async function settle(page) {
  // Leaflet starts loading on the next frame and fades tiles in: wait for both.
  await page.waitForTimeout(300);
  await page.waitForFunction(() => window.earthsig.layer && !window.earthsig.layer.isLoading());
  await page.waitForTimeout(600);
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: cfg.chromium, headless: true, args: FLAGS,
    viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1,
  });
  const result = { errors: [], foreign: [] };
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => {
      process.stderr.write(`console ${m.type()}: ${m.text()}\n`);
      if (m.type() === 'error') result.errors.push(m.text());
    });
    page.on('pageerror', (e) => result.errors.push(String(e)));
    page.on('requestfailed', (r) => process.stderr.write(`failed ${r.failure().errorText} ${r.url()}\n`));
    page.on('response', (r) => process.stderr.write(`response ${r.status()} ${r.url()}\n`));
    page.on('request', (r) => {
      process.stderr.write(`request ${r.url()}\n`);
      if (!r.url().startsWith(cfg.url) && !r.url().startsWith('data:')) result.foreign.push(r.url());
    });
    await page.goto(`${cfg.url}/map#${cfg.zoom}/${cfg.lat}/${cfg.lon}`, { waitUntil: 'load' });
    step('loaded');
    await page.waitForFunction(() => window.earthsig !== undefined);
    await page.evaluate(() => window.earthsig.ready);
    step('ready');
    // City labels (Agen is near the product) must not cover the pixels looked at.
    await page.locator('#labels').uncheck();
    await settle(page);
    step('settled');
    result.layers = await page.$$eval('#layer option', (os) => os.map((o) => o.value));
    await page.waitForSelector('#legend li');
    result.legend = await page.$$eval('#legend li', (lis) => lis.map((li) => li.textContent));
    result.point = await page.evaluate(({ lat, lon }) => window.earthsig.map
      .latLngToContainerPoint([lat, lon]), cfg);
    await page.locator('#map').screenshot({ path: path.join(cfg.out, 'map.png') });
    await page.locator('#map').click({ position: result.point });
    step('clicked');
    await page.waitForSelector('#identify[data-grid-code]', { timeout: 30000 });
    result.identify = await page.$eval('#identify', (el) => ({
      gridCode: Number(el.dataset.gridCode), clcCode: Number(el.dataset.clcCode),
      text: el.textContent }));
    // Close the identify popup: it sits on the spot the "before" screenshot is checked at.
    await page.locator('.leaflet-popup-close-button').click();
    await page.waitForSelector('.leaflet-popup', { state: 'detached' });
    await page.locator('#opacity').fill('0.4');
    result.opacity = await page.evaluate(() => window.earthsig.layer.options.opacity);
    await page.locator('#opacity').fill('1');
    // The polygons toggle: the view's polygons as GeoJSON, drawn in their class colours.
    await page.locator('#polygons').check();
    await page.waitForFunction(() => window.earthsig.polygons !== null, null, { timeout: 30000 });
    result.polygons = await page.evaluate(() => window.earthsig.polygons);
    result.polygonPaths = await page.$$eval('path.leaflet-interactive', (ps) => ps.length);
    await page.locator('#polygons').uncheck();
    result.errorsBeforeDate = [...result.errors];
    // A day before the product (a permalink with that date): the land cover "as of then" has
    // nothing here, the basemap shows through.
    await page.goto('about:blank');
    await page.goto(`${cfg.url}/map#${cfg.zoom}/${cfg.lat}/${cfg.lon}/${cfg.before}/landcover`,
                    { waitUntil: 'load' });
    await page.waitForFunction(() => window.earthsig !== undefined);
    await page.evaluate(() => window.earthsig.ready);
    await page.locator('#labels').uncheck();
    await page.waitForFunction(() => window.earthsig.coverageUpdated > 0);
    await settle(page);
    result.beforeDate = await page.$eval('#date', (el) => el.value);
    result.beforeEmpty = await page.$eval('#empty', (el) => el.textContent);
    await page.locator('#map').screenshot({ path: path.join(cfg.out, 'before.png') });
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => { process.stderr.write(String(error.stack || error)); process.exit(1); });
