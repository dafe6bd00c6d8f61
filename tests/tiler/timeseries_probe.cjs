// Clicks the web map at a point and reads the time-series chart, for test_timeseries.py.
// Usage: node timeseries_probe.cjs '{"url", "lat", "lon", "zoom", "chromium", "profile"}'
'use strict';
const path = require('path');
const { chromium } = require(path.join(process.env.TILER_WEB_MODULES, 'playwright-core'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const context = await chromium.launchPersistentContext(cfg.profile, {
    executablePath: cfg.chromium, headless: true, args: FLAGS,
    viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1,
  });
  const result = { errors: [] };
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
    page.on('pageerror', (e) => result.errors.push(String(e)));
    page.on('response', (r) => process.stderr.write(`response ${r.status()} ${r.url()}\n`));
    await page.goto(`${cfg.url}/map#${cfg.zoom}/${cfg.lat}/${cfg.lon}`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.earthsig !== undefined);
    await page.evaluate(() => window.earthsig.ready);
    const point = await page.evaluate(({ lat, lon }) => window.earthsig.map
      .latLngToContainerPoint([lat, lon]), cfg);
    await page.locator('#map').click({ position: point });
    await page.waitForSelector('#timeseries[data-count]', { timeout: 30000 });
    result.count = Number(await page.$eval('#timeseries', (el) => el.dataset.count));
    result.text = await page.$eval('#timeseries-text', (el) => el.textContent);
    result.points = await page.$$eval('#timeseries-chart circle.ts-point', (cs) => cs.map((c) => ({
      x: Number(c.getAttribute('cx')), y: Number(c.getAttribute('cy')),
      fill: c.getAttribute('fill'), code: c.dataset.code, title: c.textContent })));
    await page.locator('#panel').screenshot({ path: path.join(cfg.out, 'panel.png') });
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => { process.stderr.write(String(error.stack || error)); process.exit(1); });
