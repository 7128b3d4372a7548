// Drives exo's dashboard in headless Chromium (see test_dashboard_browser.py, which
// starts the programs and passes EXO_URL, EXO_KEY, EXO_NS, EXO_FLAG, EXO_FAN_RUN,
// EXO_SHOTS, EXO_CHROMIUM, EXO_RUNTIME).  Exits non-zero with a message at the first failure;
// prints the measured timings as JSON on its last line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const { EXO_URL: url, EXO_KEY: key, EXO_NS: ns, EXO_FLAG: flag, EXO_FAN_RUN: fanRun, EXO_SHOTS: shots } = process.env;
const runtime = process.env.EXO_RUNTIME || 'test-host';
const timings = {};
const step = (text) => console.error(`-- ${text}`);
function check(cond, text) { if (!cond) throw new Error(`check failed: ${text}`); }

const browser = await chromium.launch({ executablePath: process.env.EXO_CHROMIUM, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await context.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error' && !/401|403/.test(m.text())) errors.push(m.text()); });
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const view = (name) => page.waitForSelector(`main[data-view="${name}"]`, { timeout: 15000 });
const nodeStatus = (id) => page.getAttribute(`#run-dag g.node[data-id="${id}"]`, 'data-status');
async function waitStatus(id, status, timeout = 60000) {
  await page.waitForSelector(`#run-dag g.node[data-id="${id}"][data-status="${status}"]`, { timeout });
}

try {
  step('sign in with a wrong key, then the right one');
  await page.goto(url + '/');
  await page.waitForSelector('#signin-form');
  await page.fill('#api-key', 'wrong-key');
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#signin-error .alert');
  const refused = await page.textContent('#signin-error .alert');
  check(/Wrong API key/.test(refused), `a wrong key says so: ${refused}`);
  await shot('signin');
  const stored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  await page.fill('#api-key', key);
  await page.click('#signin-form button[type=submit]');
  await view('overview');
  const afterStored = await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie);
  check(!afterStored.includes(key) && !stored.includes(key), 'the key is in no page-readable storage');
  check(afterStored === stored, 'the session cookie is HttpOnly (document.cookie does not show it)');
  await shot('overview');

  step('graphs, and trigger "hello" from its form');
  await page.click('#nav a[data-view="graphs"]');
  await view('graphs');
  await shot('graphs');
  await page.click('main a:text-is("hello")');
  await view('graph');
  check(await page.inputValue('input[name="store:name"]') === 'world', 'the store key is pre-filled from the template');
  check(await page.inputValue('input[name="input:text"]') === '${{ store.name }}', 'the root input is pre-filled');
  await page.waitForSelector('.dag g.node[data-id="shout"]');
  await shot('graph');
  await page.fill('input[name="store:name"]', 'browser');
  await page.fill('input[name="start_delay"]', '1500');
  await page.click('#trigger-form button[type=submit]');
  await view('run');
  await page.evaluate(() => { window.__sameDocument = true; });
  const t0 = Date.now();
  await waitStatus('greet', 'CREATED', 5000); // pending: due in 1.5 s
  await waitStatus('greet', 'SUCCESS');
  await waitStatus('shout', 'SUCCESS');
  timings.trigger_to_green_ms = Date.now() - t0;
  check(await page.evaluate(() => window.__sameDocument === true), 'the DAG turned green without a reload');
  await page.waitForSelector('#run-status [data-status="SUCCESS"]');
  await page.click('#run-dag g.node[data-id="shout"]');
  await page.waitForSelector('#state-panel h2');
  const panel = await page.textContent('#state-panel');
  check(panel.includes('browser,!'), `the panel shows the outputs: ${panel.slice(0, 300)}`);
  check((await page.textContent('#state-worker')).includes(runtime), 'the panel names the worker that ran the state');
  await shot('run-green');

  step('a failing node shows its error');
  await page.goto(`${url}/#/ns/${ns}/graph/flaky`);
  await view('graph');
  await page.click('#trigger-form button[type=submit]');
  await view('run');
  const flakyRun = page.url().split('/run/')[1].split('?')[0];
  await waitStatus('check', 'ERRORED');
  await page.click('#run-dag g.node[data-id="check"]');
  await page.waitForSelector('#state-error');
  const error = await page.textContent('#state-error');
  check(error.includes('is missing: create it, then retry'), `the error is in the panel: ${error}`);
  await shot('run-error');

  step('filter runs by status and by graph');
  const t3 = Date.now();
  await page.click('#nav a[data-view="runs"]');
  await view('runs');
  await page.waitForSelector('tbody tr');
  timings.runs_render_ms = Date.now() - t3;
  await page.selectOption('#runs-filter select[name="status"]', 'FAILED');
  await page.click('#runs-filter button[type=submit]');
  await page.waitForFunction(() => (document.querySelector('main').dataset.hash || '').includes('status=FAILED'));
  await page.waitForSelector(`tr[data-run="${flakyRun}"]`);
  const failedRows = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.cells[1].textContent + ' ' + r.cells[2].textContent));
  check(failedRows.length >= 1 && failedRows.every((r) => r === 'flaky FAILED'), `only failed runs: ${failedRows}`);
  await page.selectOption('#runs-filter select[name="status"]', '');
  await page.selectOption('#runs-filter select[name="graph"]', 'hello');
  await page.click('#runs-filter button[type=submit]');
  await page.waitForFunction(() => {
    const shown = document.querySelector('main').dataset.hash || '';
    return shown.includes('graph=hello') && !shown.includes('status=FAILED');
  });
  const helloRows = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.cells[1].textContent));
  check(helloRows.length === 1, `one run of hello: ${helloRows}`);
  await page.selectOption('#runs-filter select[name="graph"]', '');
  await page.selectOption('#runs-filter select[name="refresh"]', '5');
  await page.waitForFunction(() => (document.querySelector('main').dataset.hash || '').includes('refresh=5'));
  await page.waitForSelector(`tr[data-run="${fanRun}"]`);
  await shot('runs');

  step('fix the cause, retry from the panel, watch it succeed');
  await page.goto(`${url}/#/ns/${ns}/run/${flakyRun}`);
  await view('run');
  await page.click('#run-dag g.node[data-id="check"]');
  await page.waitForSelector('#retry-state');
  writeFileSync(flag, 'fixed\n');
  await page.click('#retry-state');
  await waitStatus('check', 'SUCCESS');
  await page.waitForSelector('#run-status [data-status="SUCCESS"]');
  await shot('run-retried');

  step('a 1,000-branch fan-out renders collapsed and expands on click');
  const t1 = Date.now();
  await page.goto(`${url}/#/ns/${ns}/run/${fanRun}`);
  await page.waitForFunction(() => {
    const n = document.querySelector('#run-dag g.node[data-id="each"]');
    return n && /×1000/.test(n.textContent);
  }, null, { timeout: 60000 });
  timings.fanout_render_ms = Date.now() - t1;
  const t2 = Date.now();
  await page.click('#run-dag g.node[data-id="each"]');
  await page.waitForSelector('#branches h2');
  timings.fanout_expand_ms = Date.now() - t2;
  check((await page.textContent('#branches h2')).includes('1000 branches'), 'the group expands to its branches');
  await page.click('#branches button:text-is("Show 500 more")');
  await page.waitForFunction(() => document.querySelectorAll('#branches .branches button').length === 700);
  await page.click('#branches .branches button >> nth=0');
  await page.waitForSelector('#state-panel h2');
  await shot('fanout');
  await page.screenshot({ path: join(shots, 'dashboard.png') }); // the README's picture (one screen)

  step('nodes');
  await page.click('#nav a[data-view="nodes"]');
  await view('nodes');
  check((await page.textContent('main')).includes('FanOutNode'), 'registered nodes are listed');
  await page.waitForSelector('main td .badge[data-status="alive"]');
  await shot('nodes');

  step('workers: the host is listed, alive');
  await page.click('#nav a[data-view="workers"]');
  await view('workers');
  await page.waitForSelector(`main tr[data-runtime="${runtime}"] .badge[data-status="alive"]`);
  check((await page.textContent(`main tr[data-runtime="${runtime}"]`)).includes('FanOutNode'), 'the host\'s nodes are listed');
  await shot('workers');

  step('keyboard: a DAG node opens with Enter');
  await page.goto(`${url}/#/ns/${ns}/run/${flakyRun}`);
  await view('run');
  await page.focus('#run-dag g.node[data-id="check"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#state-panel h2');

  step('a phone-width screen');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${url}/#/ns/${ns}/runs`);
  await view('runs');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling of the page at 390 px (overflow ${overflow})`);
  await shot('runs-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  step('sign out: the old cookie is refused by the API');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'exo_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict cookie');
  await page.click('#signout');
  await page.waitForSelector('#signin-form');
  const res = await fetch(`${url}/v0/namespaces`, { headers: { Cookie: `exo_session=${session.value}` } });
  check(res.status === 401, `the old cookie is refused after sign-out (got ${res.status})`);
  check(errors.length === 0, `no page errors: ${errors.slice(0, 3).join('; ').slice(0, 1500)}`);
  console.log(JSON.stringify(timings));
} catch (e) {
  console.error(String(e && e.stack || e));
  try { await shot('failure'); } catch { /* best effort */ }
  await browser.close();
  process.exit(1);
}
await browser.close();
