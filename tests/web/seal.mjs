// Drives the web sealer in headless Chromium (docs/web.md): fills the form, seals, and writes
// the YAML and JSON output. Run by kubeseal-rs/tests/web_browser.rs and
// controller/tests/e2e_web.rs as `node tests/web/seal.mjs CONFIG.json`, where CONFIG has
//   url        the page (file://… for the offline page, http://… for the served one)
//   offline    true: the page may make no request at all
//   namespace, name, scope, type
//   items      [{ key, value } | { key, file }]  (file: a path uploaded into the row)
//   out        directory for sealed.yaml, sealed.json, downloaded.yaml
//   screenshot optional PNG path
//   expectError true: the form must be refused; prints { error, requests } instead
// It fails (exit 1, one line on stderr) when a request carries a plaintext value, when the
// offline page makes any request, on a page error or CSP violation, or when storage was used.
// On success it prints a JSON summary: the certificate facts shown and every request seen.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const secrets = config.items.map((it) => (it.file ? readFileSync(it.file) : Buffer.from(it.value)));
const needles = secrets.flatMap((b) => [b.toString('latin1'), b.toString('base64')])
  .filter((s) => s.length >= 4);

function fail(message) {
  console.error(`seal.mjs: ${message}`);
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: process.env.SSRS_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const requests = [];
  const problems = [];
  // Every request any page of the context makes, seen before it leaves.
  await context.route('**/*', async (route) => {
    const req = route.request();
    const body = req.postDataBuffer();
    const record = { method: req.method(), url: req.url(), body: body ? body.length : 0 };
    requests.push(record);
    const text = [req.url(), JSON.stringify(req.headers()), body ? body.toString('latin1') : ''].join('\n');
    if (needles.some((n) => text.includes(n))) problems.push(`a request carries a plaintext value: ${req.url()}`);
    if (config.offline && req.url() !== config.url) {
      problems.push(`the offline page made a request: ${req.method()} ${req.url()}`);
      await route.abort();
      return;
    }
    await route.continue();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });

  await page.goto(config.url);
  await page.waitForSelector('body[data-ready]');
  if ((await page.getAttribute('body', 'data-ready')) !== 'true') {
    fail(`the page cannot use its certificate: ${await page.textContent('#cert-error')}`);
  }
  const cert = {
    source: await page.textContent('#cert-source'),
    fingerprint: await page.textContent('#cert-fingerprint'),
    notAfter: await page.textContent('#cert-not-after'),
    keySize: await page.textContent('#cert-key-size'),
  };

  await page.fill('#namespace', config.namespace);
  await page.fill('#name', config.name);
  await page.selectOption('#scope', config.scope);
  await page.selectOption('#type', config.type);
  for (let i = 0; i < config.items.length; i++) {
    if (i > 0) await page.click('#add-row');
    const row = page.locator('#rows .item').nth(i);
    await row.locator('.key').fill(config.items[i].key);
    if (config.items[i].file) await row.locator('.file').setInputFiles(config.items[i].file);
    else await row.locator('.value').fill(config.items[i].value);
  }
  if (config.screenshotBefore) await page.screenshot({ path: config.screenshotBefore, fullPage: true });
  await page.click('#seal');
  await page.waitForFunction(() => document.getElementById('out-yaml').value !== '' ||
    document.getElementById('seal-error').textContent !== '');
  const error = await page.textContent('#seal-error');
  if (config.expectError) {
    // A refused form: the error is shown, and there is no output to copy or download.
    if (!error) fail('the page sealed a form it should have refused');
    const leftovers = await page.inputValue('#out-yaml');
    if (leftovers || !(await page.isDisabled('#download-yaml'))) problems.push('a refused form left output');
    if (problems.length) fail(problems.join('; '));
    console.log(JSON.stringify({ error, requests }));
    process.exit(0);
  }
  if (error) fail(error);
  const yaml = await page.inputValue('#out-yaml');
  const json = await page.inputValue('#out-json');
  writeFileSync(join(config.out, 'sealed.yaml'), yaml);
  writeFileSync(join(config.out, 'sealed.json'), json);
  if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-yaml')]);
  const downloaded = join(config.out, 'downloaded.yaml');
  await download.saveAs(downloaded);
  if (readFileSync(downloaded, 'utf8') !== yaml) problems.push('the downloaded YAML differs from the shown one');

  const stored = await page.evaluate(async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    databases: indexedDB.databases ? (await indexedDB.databases()).length : 0,
  }));
  if (stored.local || stored.session || stored.databases) problems.push(`storage was used: ${JSON.stringify(stored)}`);

  // The policy is in force: an injected inline script does not run.
  const before = problems.length;
  await page.addScriptTag({ content: 'window.__injected = true;' }).catch(() => {});
  const injected = await page.evaluate(() => window.__injected === true);
  problems.splice(before); // the CSP violation this provokes is expected
  if (injected) problems.push('an injected inline script ran: the Content-Security-Policy is not in force');

  if (problems.length) fail(problems.join('; '));
  console.log(JSON.stringify({ cert, requests, stored }));
} finally {
  await browser.close();
}
