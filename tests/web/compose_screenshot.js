#!/usr/bin/env node
// One generation in the web page's Compose view, then a screenshot of it (scripts/demo.sh's last step):
//
//   node tests/web/compose_screenshot.js --url http://127.0.0.1:PORT --out FILE.png [--genre rock] [--seed 1]
//                                        [--token T] [--timeout 120] [--chromium /usr/bin/chromium]
//
// Waits for the genre to be offered, picks it, sets the seed, presses Generate, waits until the pianoroll
// image has loaded and the audio element has its duration, and saves a full-page screenshot to FILE.png.
// Prints one line saying what was generated. Exit 1 with the page's error banner when generation fails.
// Lives beside page_test.js because it uses the same pinned playwright-core (tests/web/node_modules).
'use strict';

const path = require('path');

function parseArgs(argv) {
  const args = { url: '', out: '', genre: 'rock', seed: '1', token: '', timeout: '120', chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) {
      console.error(`compose_screenshot.js: unknown or incomplete option '${argv[i]}'\n` +
        'usage: node compose_screenshot.js --url URL --out FILE.png [--genre G] [--seed S] [--token T] [--timeout SECONDS]');
      process.exit(2);
    }
    args[key] = argv[++i];
  }
  if (!args.url || !args.out) {
    console.error('compose_screenshot.js: --url and --out are required');
    process.exit(2);
  }
  args.timeout = Number(args.timeout) * 1000;
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    if (args.token) await context.addInitScript((t) => localStorage.setItem('tutti.token', t), args.token);
    const page = await context.newPage();
    await page.goto(args.url, { timeout: args.timeout });
    const wait = (fn, arg) => page.waitForFunction(fn, arg, { timeout: args.timeout, polling: 100 });
    await wait((g) => [...document.getElementById('compose-genre').options].some((o) => o.value === g && !o.disabled),
      args.genre);
    await page.selectOption('#compose-genre', args.genre);
    await page.fill('#compose-seed', args.seed);
    await page.click('#compose-generate');
    await wait(() => {
      const e = document.getElementById('error');
      if (e && !e.hidden) return true;  // failed: reported below
      const img = document.getElementById('compose-roll');
      const audio = document.getElementById('compose-audio');
      return !document.getElementById('compose-result').hidden && img && img.complete && img.naturalWidth > 0 &&
        audio && audio.readyState >= 1 && audio.duration > 0;
    });
    await page.screenshot({ path: args.out, fullPage: true });
    const banner = await page.evaluate(() => {
      const e = document.getElementById('error');
      return e && !e.hidden ? document.getElementById('error-message').textContent.trim() : '';
    });
    if (banner) {
      console.error(`compose_screenshot.js: Generate failed in the page: ${banner} (screenshot ${args.out})`);
      process.exitCode = 1;
      return;
    }
    const source = await page.$eval('#compose-source', (e) => e.textContent.trim());
    console.log(`${source}; screenshot ${path.resolve(args.out)}`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`compose_screenshot.js: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
