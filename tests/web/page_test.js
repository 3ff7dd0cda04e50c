#!/usr/bin/env node
// Drives the coordinator's web page (coordinator/http/web) in headless Chromium against a real coordinator:
//
//   node tests/web/page_test.js --url http://127.0.0.1:PORT --out DIR [--token T] [--genre rock]
//                               [--disabled-genre jazz] [--seed 7] [--timeout 60] [--chromium /usr/bin/chromium]
//
// Checks, in order (each wait is time-boxed by --timeout seconds, the whole run by 6 x that):
//   auth        (only with --token) the page starts without a token: the 401 shows in #error and the token
//               form appears; the token typed there makes the page load.
//   genres      (only with --disabled-genre) that genre, which has no checkpoint yet, is listed but disabled
//               with the reason in the Compose and Listen genre selects.
//   compose     Generate for --genre: the pianoroll image loads, the audio has metadata, the WAV decoded in
//               the page is not silent (RMS > 1e-3), the source line and download names are right; then
//               Generate with a trial picked in the trial select gives a sample of that trial.
//   error       a seed beyond uint64 sent through the page's own form: the coordinator's 400 shows in
//               #error, and the page still shows its controls and the previous sample.
//   experiments the first experiment with a trial that has metrics: the loss and objective charts have a
//               path of at least 2 points, the checkpoints table has rows; the leaderboard has rows.
//   listen      New pair: both sides' audio has metadata and both images load; "A is better" reveals the
//               trials and the genre's rating count goes up by one (so does trial A's count).
// Screenshots: DIR/compose.png, DIR/error.png, DIR/experiments.png, DIR/listen.png (DIR/failure.png on a
// failure). Exit 0 when every check passes; otherwise prints the failed check, the page's console errors
// and failed requests, and exits 1.
'use strict';

const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { url: '', out: '', token: '', genre: 'rock', 'disabled-genre': '', seed: '7', timeout: 60, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) {
      console.error(`page_test.js: unknown or incomplete option '${argv[i]}'\n` +
        'usage: node page_test.js --url URL --out DIR [--token T] [--genre G] [--disabled-genre G] [--seed S] [--timeout SECONDS] [--chromium PATH]');
      process.exit(2);
    }
    args[key] = argv[++i];
  }
  if (!args.url || !args.out) {
    console.error('page_test.js: --url and --out are required');
    process.exit(2);
  }
  args.timeout = Number(args.timeout) * 1000;
  return args;
}

const args = parseArgs(process.argv.slice(2));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error(`FAIL setup: playwright-core is not installed beside ${__filename} (${e.message}); run scripts/install-deps.sh`);
  process.exit(1);
}

const consoleErrors = [];
const failedRequests = [];
let page = null;
let browser = null;
let current = 'setup';

function log(line) { process.stdout.write(line + '\n'); }

class CheckFailure extends Error {}
function expect(condition, message) { if (!condition) throw new CheckFailure(message); }

async function fail(err) {
  log(`FAIL ${current}: ${err && err.message ? err.message : err}`);
  if (page) {
    try {
      const banner = await page.evaluate(() => {
        const e = document.getElementById('error');
        return e && !e.hidden ? document.getElementById('error-message').textContent.trim() : '';
      });
      if (banner) log(`  #error banner: ${banner}`);
      await page.screenshot({ path: path.join(args.out, 'failure.png'), fullPage: true });
      log(`  screenshot: ${path.join(args.out, 'failure.png')}`);
    } catch (e) { /* the page may be gone */ }
  }
  log(`  console errors (${consoleErrors.length}):`);
  for (const line of consoleErrors) log(`    ${line}`);
  log(`  failed requests (${failedRequests.length}):`);
  for (const line of failedRequests) log(`    ${line}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

// The whole run can never hang: six waits' worth at most.
const watchdog = setTimeout(() => { fail(new Error(`the whole run took over ${6 * args.timeout / 1000} s`)); }, 6 * args.timeout);
watchdog.unref();

// page.waitForFunction with the step's message on timeout.
async function waitFor(what, fn, arg) {
  try {
    return await (await page.waitForFunction(fn, arg, { timeout: args.timeout, polling: 100 })).jsonValue();
  } catch (e) {
    throw new CheckFailure(`timed out after ${args.timeout / 1000} s waiting for ${what}`);
  }
}

const text = (selector) => page.$eval(selector, (e) => e.textContent.trim());
const errorText = () => text('#error-message');
const visible = (id) => page.evaluate((i) => { const e = document.getElementById(i); return !!e && !e.hidden && e.offsetParent !== null; }, id);
const shot = async (name) => { const p = path.join(args.out, name); await page.screenshot({ path: p, fullPage: true }); log(`  screenshot ${p}`); };

// Media readiness, evaluated in the page.
const imageLoaded = (id) => { const i = document.getElementById(id); return !!i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : false; };
const audioReady = (id) => { const a = document.getElementById(id); return !!a && a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 0 ? a.duration : false; };

// The WAV behind an <audio>'s blob URL, decoded by the browser: duration, channels and RMS over every sample.
async function decodeAudio(id) {
  return page.evaluate(async (audioId) => {
    const a = document.getElementById(audioId);
    const data = await (await fetch(a.src)).arrayBuffer();
    const Context = window.AudioContext || window.webkitAudioContext;
    const ctx = new Context();
    const buffer = await ctx.decodeAudioData(data);
    let sum = 0, n = 0;
    for (let c = 0; c < buffer.numberOfChannels; c++) {
      const s = buffer.getChannelData(c);
      for (let i = 0; i < s.length; i++) sum += s[i] * s[i];
      n += s.length;
    }
    await ctx.close();
    return { seconds: buffer.duration, channels: buffer.numberOfChannels, rate: buffer.sampleRate, rms: Math.sqrt(sum / Math.max(1, n)) };
  }, id);
}

async function checkAuth() {
  current = 'auth';
  // A fresh browser context has no token: the first call answers 401.
  await waitFor('the token form (#auth) after a 401', () => { const a = document.getElementById('auth'); return !!a && !a.hidden; });
  const banner = await waitFor('the 401 in the #error banner', () => {
    const e = document.getElementById('error');
    return e && !e.hidden ? document.getElementById('error-message').textContent : false;
  });
  expect(/401/.test(banner) && /UNAUTHENTICATED/.test(banner), `#error should name the 401 (UNAUTHENTICATED), shows "${banner.trim()}"`);
  await page.fill('#token-input', args.token);
  await page.click('#token-save');
  await waitFor('the page to load with the token', () => {
    const s = document.getElementById('compose-genre');
    return !!s && [...s.options].some((o) => o.value && !o.disabled);
  });
  expect(await page.evaluate(() => localStorage.getItem('tutti.token')) === args.token, 'the token is not kept in localStorage "tutti.token"');
  expect(!(await visible('auth')), 'the token form is still shown after a good token');
  log(`ok   auth: the 401 showed "${banner.trim().slice(0, 100)}…" and the token form; the token loads the page`);
}

async function checkDisabledGenre() {
  current = 'genres';
  const genre = args['disabled-genre'];
  for (const select of ['compose-genre', 'listen-genre']) {
    const option = await waitFor(`genre "${genre}" in #${select}`, ([id, g]) => {
      const o = [...document.getElementById(id).options].find((x) => x.value === g);
      return o ? { disabled: o.disabled, text: o.textContent } : false;
    }, [select, genre]);
    expect(option.disabled, `#${select}: genre ${genre} has no checkpoint but can be picked`);
    expect(/no trial of this genre has a checkpoint/.test(option.text), `#${select}: ${genre} does not say why it is disabled: "${option.text}"`);
  }
  const note = await text('#compose-genre-note');
  expect(note.includes(genre), `#compose-genre-note does not name ${genre}: "${note}"`);
  log(`ok   genres: ${genre} listed, disabled: "${note}"`);
}

async function checkCompose() {
  current = 'compose';
  const genre = args.genre;
  await waitFor(`genre "${genre}" enabled in #compose-genre`,
    (g) => [...document.getElementById('compose-genre').options].some((o) => o.value === g && !o.disabled), genre);
  await page.selectOption('#compose-genre', genre);
  await page.fill('#compose-seed', args.seed);
  await page.click('#compose-generate');
  // Busy while generating, then the result.
  await waitFor('#compose-result after Generate', () => !document.getElementById('compose-result').hidden);
  const [w, h] = await waitFor('the pianoroll image (#compose-roll) to load', imageLoaded, 'compose-roll');
  const duration = await waitFor('the audio (#compose-audio) to have metadata', audioReady, 'compose-audio');
  const wav = await decodeAudio('compose-audio');
  expect(wav.rms > 1e-3, `the WAV is silent: RMS ${wav.rms} over ${wav.seconds.toFixed(2)} s (expected > 1e-3)`);
  const source = await text('#compose-source');
  const m = source.match(/from checkpoint (\d+) of trial (\d+) \(experiment (\d+)[^)]*\), step (\d+)/);
  expect(m, `#compose-source should say "from checkpoint C of trial T (experiment E), step S", says "${source}"`);
  expect(source.includes(`seed ${args.seed}`), `#compose-source should name seed ${args.seed}: "${source}"`);
  const downloads = await page.evaluate(() => ['midi', 'wav', 'npz'].map((k) => {
    const a = document.getElementById(`compose-download-${k}`);
    return { kind: k, name: a.getAttribute('download') || '', href: a.getAttribute('href') || '' };
  }));
  for (const d of downloads) {
    const ext = d.kind === 'midi' ? 'mid' : d.kind;
    expect(d.name === `${genre}-seed${args.seed}-ckpt${m[1]}.${ext}`,
      `download ${d.kind} should be named ${genre}-seed${args.seed}-ckpt${m[1]}.${ext}, is "${d.name}"`);
    expect(d.href.startsWith('blob:'), `download ${d.kind} has no blob URL ("${d.href}")`);
  }
  expect(!(await visible('error')), `an error is shown after a good Generate: ${await errorText()}`);
  const status = await text('#compose-status');
  expect(await page.$eval('#compose-generate', (b) => !b.disabled), 'Generate stays disabled after the answer');
  log(`ok   compose: ${genre} seed ${args.seed} from checkpoint ${m[1]} (trial ${m[2]}, step ${m[4]}); image ${w}x${h}; ` +
      `audio ${duration.toFixed(2)} s, decoded ${wav.channels} ch ${wav.rate} Hz RMS ${wav.rms.toFixed(4)}; ${status}`);
  await shot('compose.png');

  // A chosen trial (the trial select lists the genre's trials from its leaderboard): the sample says so.
  const options = await page.$$eval('#compose-trial option', (os) => os.map((o) => o.value).filter((v) => v));
  expect(options.length >= 1, `#compose-trial lists no trial of ${genre}`);
  const other = options.find((t) => t !== m[2]) || options[0];
  await page.selectOption('#compose-trial', other);
  await page.click('#compose-generate');
  const chosen = await waitFor(`a sample of trial ${other}`, (t) => {
    const s = document.getElementById('compose-source');
    // Busy is set synchronously by the click, so "not busy" here means this Generate has answered.
    const idle = document.getElementById('view-compose').getAttribute('aria-busy') === 'false';
    return idle && s.dataset.trialId === t ? s.textContent : false;
  }, other);
  await waitFor('the pianoroll of the chosen trial to load', imageLoaded, 'compose-roll');
  await waitFor('the audio of the chosen trial to have metadata', audioReady, 'compose-audio');
  expect(!(await visible('error')), `an error is shown after Generate for trial ${other}: ${await errorText()}`);
  log(`ok   compose with a trial: ${options.length} trial(s) of ${genre} to pick from; ${chosen.trim()}`);
  await page.selectOption('#compose-trial', '');
  return { checkpoint: m[1] };
}

async function checkError() {
  current = 'error';
  // 2^64 passes the page's shape check (digits) but not the coordinator's uint64 parse: a real 400.
  const bad = '18446744073709551616';
  await page.fill('#compose-seed', bad);
  await page.click('#compose-generate');
  const banner = await waitFor('the #error banner after Generate with seed 2^64', () => {
    const e = document.getElementById('error');
    const m = document.getElementById('error-message').textContent.trim();
    return e && !e.hidden && m ? m : false;
  });
  expect(/Generate failed/.test(banner), `#error should say Generate failed: "${banner}"`);
  expect(/HTTP 400/.test(banner) && /INVALID_ARGUMENT/.test(banner), `#error should carry the 400 INVALID_ARGUMENT: "${banner}"`);
  // Not a blank page: the controls and the previous sample are still there, and Generate can be used again.
  expect(await visible('compose-form'), 'the compose controls are gone after the error');
  expect(await visible('compose-roll'), 'the previous sample is gone after the error');
  await waitFor('Generate to be usable again', () => !document.getElementById('compose-generate').disabled);
  log(`ok   error: ${banner}`);
  await shot('error.png');
  await page.click('#error-dismiss');
  expect(!(await visible('error')), '#error-dismiss does not hide the banner');
  await page.fill('#compose-seed', args.seed);
}

async function checkExperiments() {
  current = 'experiments';
  await page.click('#tab-experiments');
  await waitFor('rows in #experiments-table', () => document.querySelectorAll('#experiments-table tbody tr').length > 0);
  const experimentIds = await page.$$eval('#experiments-table tbody tr', (rows) => rows.map((r) => r.dataset.experimentId));
  let picked = null;
  for (const id of experimentIds) {
    await page.click(`#experiment-row-${id}`);
    await waitFor(`the trials of experiment ${id}`, (e) => {
      const t = document.getElementById('trials-title');
      return !document.getElementById('trials-section').hidden && t.textContent.startsWith(`Trials of experiment ${e}`) &&
        document.querySelectorAll('#trials-table tbody tr').length > 0;
    }, id);
    const trial = await page.evaluate(() => {
      const row = [...document.querySelectorAll('#trials-table tbody tr')].find((r) => Number(r.dataset.step) > 0);
      return row ? row.dataset.trialId : null;
    });
    if (trial) { picked = { experiment: id, trial }; break; }
  }
  expect(picked, `no experiment among ${experimentIds.join(', ')} has a trial with metrics (step > 0)`);
  await page.click(`#trial-row-${picked.trial}`);
  const charts = await waitFor(`the charts of trial ${picked.trial}`, () => {
    const count = (id) => [...document.querySelectorAll(`#${id} svg path.series`)].map((p) => ({
      series: p.dataset.series, points: (p.getAttribute('d').match(/[ML]/g) || []).length,
    }));
    const losses = count('chart-losses');
    const objective = count('chart-objective');
    return losses.length && objective.length ? { losses, objective } : false;
  });
  const lossPoints = Math.max(...charts.losses.map((s) => s.points));
  expect(lossPoints >= 2, `the loss chart's paths have ${JSON.stringify(charts.losses)} (want a path of >= 2 points)`);
  expect(charts.losses.some((s) => s.series === 'd_loss') && charts.losses.some((s) => s.series === 'g_loss'),
    `the loss chart should draw d_loss and g_loss: ${JSON.stringify(charts.losses)}`);
  expect(charts.objective[0].points >= 2, `the objective chart's path has ${charts.objective[0].points} point(s) (want >= 2)`);
  await waitFor('rows in #checkpoints-table', () => document.querySelectorAll('#checkpoints-table tbody tr').length > 0);
  const checkpoints = await page.$$eval('#checkpoints-table tbody tr', (rows) => rows.length);
  const objectiveCaption = await text('#chart-objective-caption');
  // The leaderboard of the genre.
  await page.selectOption('#leaderboard-genre', args.genre);
  await waitFor(`the ${args.genre} rows in #leaderboard-table`, (g) => document.getElementById('leaderboard-table').dataset.genre === g &&
    document.querySelectorAll('#leaderboard-table tbody tr').length > 0, args.genre);
  const board = await page.$$eval('#leaderboard-table tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  expect(board.every((r) => /^(\d\.\d\d|—) \(\d+\)$/.test(r[5])), `win rate cells should read "0.67 (3)": ${JSON.stringify(board)}`);
  expect(!(await visible('error')), `an error is shown on the Experiments view: ${await errorText()}`);
  log(`ok   experiments: experiment ${picked.experiment}, trial ${picked.trial}: losses ${JSON.stringify(charts.losses)}, ` +
      `${objectiveCaption} ${charts.objective[0].points} points; ${checkpoints} checkpoint(s); ${args.genre} leaderboard ${board.length} row(s)`);
  // Scroll the charts into view for the screenshot (full page anyway).
  await shot('experiments.png');
}

async function checkListen() {
  current = 'listen';
  await page.click('#tab-listen');
  await waitFor(`genre "${args.genre}" enabled in #listen-genre`,
    (g) => [...document.getElementById('listen-genre').options].some((o) => o.value === g && !o.disabled), args.genre);
  await page.selectOption('#listen-genre', args.genre);
  const before = Number(await waitFor(`the ${args.genre} rating count (#listen-rating-count)`, (g) => {
    const c = document.getElementById('listen-rating-count');
    return c.dataset.genre === g && c.dataset.count !== '' ? c.dataset.count : false;
  }, args.genre));
  await page.click('#listen-new-pair');
  await waitFor('the pair (#listen-pair) to show', () => !document.getElementById('listen-pair').hidden);
  const durA = await waitFor('audio A to have metadata', audioReady, 'listen-a-audio');
  const durB = await waitFor('audio B to have metadata', audioReady, 'listen-b-audio');
  await waitFor('pianoroll A to load', imageLoaded, 'listen-a-roll');
  await waitFor('pianoroll B to load', imageLoaded, 'listen-b-roll');
  expect(await page.$eval('#listen-reveal', (e) => e.textContent.trim() === ''), 'the pair is not blind: #listen-reveal already says who is who');
  const ratingsBefore = await page.$$eval('#listen-leaderboard tbody tr', (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.trialId, Number(r.dataset.ratings)])));
  await waitFor('the rate buttons to be enabled', () => !document.getElementById('listen-rate-a').disabled);
  await page.click('#listen-rate-a');
  const reveal = await waitFor('#listen-reveal after "A is better"', () => document.getElementById('listen-reveal').textContent.trim() || false);
  const m = reveal.match(/A was trial (\d+) \(checkpoint (\d+)\), B was trial (\d+)/);
  expect(m, `#listen-reveal should say "A was trial X (checkpoint C), B was trial Y": "${reveal}"`);
  const disabled = await page.$$eval('#listen-rate-a, #listen-rate-same, #listen-rate-b', (bs) => bs.every((b) => b.disabled));
  expect(disabled, 'the rate buttons are still enabled after rating');
  const after = Number(await waitFor(`the rating count to reach ${before + 1}`, (want) => {
    const c = document.getElementById('listen-rating-count');
    return Number(c.dataset.count) === want ? c.dataset.count : false;
  }, before + 1));
  const trialA = m[1];
  const trialB = m[3];
  let rowText = '';
  if (trialA !== trialB) {
    const row = await waitFor(`trial ${trialA}'s row in #listen-leaderboard`, (t) => {
      const r = document.getElementById(`listen-lb-row-${t}`);
      return r ? { ratings: Number(r.dataset.ratings), text: [...r.cells].map((c) => c.textContent.trim()).join(' | ') } : false;
    }, trialA);
    const was = ratingsBefore[trialA] || 0;
    expect(row.ratings === was + 1, `trial ${trialA}'s ratings went from ${was} to ${row.ratings} (want ${was + 1})`);
    rowText = `; trial ${trialA}: ${row.text}`;
  }
  expect(!(await visible('error')), `an error is shown on the Listen view: ${await errorText()}`);
  log(`ok   listen: audio A ${durA.toFixed(2)} s, B ${durB.toFixed(2)} s; "${reveal}"; ${args.genre} ratings ${before} -> ${after}${rowText}`);
  await shot('listen.png');
}

(async () => {
  fs.mkdirSync(args.out, { recursive: true });
  current = 'launch';
  browser = await chromium.launch({
    executablePath: args.chromium,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    timeout: args.timeout,
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(args.timeout);
  page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(`[${current}] ${msg.text()}`); });
  page.on('pageerror', (err) => consoleErrors.push(`[${current}] uncaught: ${err.message}`));
  page.on('response', (r) => { if (r.status() >= 400) failedRequests.push(`[${current}] ${r.request().method()} ${r.url()} -> ${r.status()}`); });
  page.on('requestfailed', (r) => failedRequests.push(`[${current}] ${r.method()} ${r.url()} -> ${r.failure() ? r.failure().errorText : 'failed'}`));

  current = 'load';
  const response = await page.goto(args.url, { waitUntil: 'load', timeout: args.timeout });
  expect(response && response.ok(), `GET ${args.url} answered ${response ? response.status() : 'nothing'}`);
  expect(await page.title() === 'Tutti', `the page title is "${await page.title()}", not "Tutti"`);
  if (args.token) await checkAuth();
  if (args['disabled-genre']) await checkDisabledGenre();
  await checkCompose();
  await checkError();
  await checkExperiments();
  await checkListen();
  // Nothing outside the coordinator was asked for.
  const origin = new URL(args.url).origin;
  const foreign = await page.evaluate((o) => performance.getEntriesByType('resource').map((e) => e.name)
    .filter((n) => !n.startsWith(o) && !n.startsWith('blob:') && !n.startsWith('data:')), origin);
  current = 'no external requests';
  expect(foreign.length === 0, `the page asked for ${foreign.join(', ')}`);
  // Console errors are expected only where errors were provoked (the 401, the bad seed).
  current = 'console';
  const provoked = (l) => l.startsWith('[auth]') || l.startsWith('[error]') || (args.token && l.startsWith('[load]') && /\b401\b/.test(l));
  const unexpected = consoleErrors.filter((l) => !provoked(l));
  expect(unexpected.length === 0, `the page logged errors outside the provoked error paths: ${unexpected.join(' / ')}`);
  log(`PASS every check (${consoleErrors.length} console error(s), all from the provoked error paths)`);
  await browser.close();
  process.exit(0);
})().catch(fail);
