// The coordinator's web page: Compose, Experiments and Listen over the JSON mirror of the gRPC API
// (docs/http_api.md). No framework and no external requests. Conventions of the API this code relies on:
// proto field names, every field printed, 64-bit integers as strings (ids, steps, seeds: kept as strings and
// only turned into numbers for display and arithmetic), enums by name, bytes as base64. Every failed call
// ends in the #error banner; a 401 also opens the token form (#auth).
'use strict';

(() => {
  const TOKEN_KEY = 'tutti.token';
  // Pianoroll track colours, top band first (core/render/pianoroll_png.cc TrackColor).
  const TRACKS = [['Drums', '#d62728'], ['Piano', '#1f77b4'], ['Guitar', '#2ca02c'], ['Bass', '#9467bd'], ['Strings', '#ff7f0e']];
  const CONTENT_TYPES = { mid: 'audio/midi', midi: 'audio/midi', wav: 'audio/wav', png: 'image/png', npz: 'application/octet-stream' };
  const DEFAULT_METRIC = 'eval.realism.score';
  const NO_CHECKPOINT_REASON = 'no trial of this genre has a checkpoint with its metric yet';

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------------------
  // Calls

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;  // HTTP status, 0 when the coordinator could not be reached
      this.code = code;      // gRPC code name ("INVALID_ARGUMENT"), or "HTTP <status>"
    }
  }

  function token() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  // POST /api/tutti.v1.<service>/<method> with `body`; resolves to the response message, rejects with an
  // ApiError carrying the server's {"code", "message"}.
  async function call(service, method, body) {
    const headers = { 'Content-Type': 'application/json' };
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    let response;
    try {
      response = await fetch(`api/tutti.v1.${service}/${method}`, {
        method: 'POST', headers, body: JSON.stringify(body || {}), cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'UNAVAILABLE', `cannot reach the coordinator (${e.message})`);
    }
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : {}; } catch (e) { json = null; }
    if (!response.ok) {
      if (response.status === 401) showAuth();
      const code = json && json.code ? json.code : `HTTP ${response.status}`;
      // Not the API's error body (a proxy's page, say): its text without markup, shortened.
      const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
      const message = json && json.message ? json.message : (plain || response.statusText || 'no message');
      throw new ApiError(response.status, code, message);
    }
    if (json === null) throw new ApiError(response.status, 'INTERNAL', 'the answer is not JSON: ' + text.slice(0, 200));
    return json;
  }

  // Guards against out-of-order answers: only the newest request of a kind may update the page.
  const generations = new Map();
  function begin(kind) {
    const g = (generations.get(kind) || 0) + 1;
    generations.set(kind, g);
    return () => generations.get(kind) === g;
  }

  // ---------------------------------------------------------------------------------------------------
  // Errors and the token form

  function showError(what, err) {
    let text;
    if (err instanceof ApiError) {
      const status = err.status && !err.code.startsWith('HTTP') ? ` (HTTP ${err.status})` : '';
      text = `${what} failed: ${err.code}${status}: ${err.message}`;
      if (err.status === 401) text += ' Enter the token below.';
    } else {
      text = `${what} failed: ${err && err.message ? err.message : String(err)}`;
    }
    $('error-message').textContent = text;
    $('error').hidden = false;
    console.error(text);
  }

  function clearError() {
    $('error').hidden = true;
    $('error-message').textContent = '';
  }

  function showAuth() {
    const form = $('auth');
    if (!form.hidden) return;
    form.hidden = false;
    $('token-input').value = token();
    $('token-input').focus();
  }

  function saveToken(ev) {
    ev.preventDefault();
    const value = $('token-input').value.trim();
    try {
      if (value) localStorage.setItem(TOKEN_KEY, value); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      showError('Saving the token', e);
      return;
    }
    $('auth').hidden = true;
    clearError();
    reloadAll();
  }

  // ---------------------------------------------------------------------------------------------------
  // Small helpers

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'title' || k === 'scope') node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function num(v) { return v === undefined || v === null || v === '' ? NaN : Number(v); }  // "NaN", "12" -> number

  function fmt(v) {
    const x = num(v);
    if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : String(x);
    if (x === 0) return '0';
    const a = Math.abs(x);
    if (a >= 10000 || a < 0.001) return x.toExponential(2);
    return String(Number(x.toPrecision(a >= 100 ? 5 : 3)));
  }

  function bytes(n) {
    const x = num(n);
    if (!Number.isFinite(x)) return '';
    if (x < 1024) return `${x} B`;
    if (x < 1024 * 1024) return `${(x / 1024).toFixed(1)} KiB`;
    return `${(x / 1024 / 1024).toFixed(1)} MiB`;
  }

  function shortState(s, prefix) { return String(s || '').replace(prefix, '').toLowerCase(); }

  function stateBadge(s, prefix) {
    const name = shortState(s, prefix);
    return el('span', { class: `badge state-${name}`, text: name || '?' });
  }

  function setRows(tbody, rows) { tbody.replaceChildren(...rows); }

  // Rows a mouse or the keyboard (Enter / Space) can pick.
  function clickableRow(row, onPick) {
    row.tabIndex = 0;
    row.addEventListener('click', onPick);
    row.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onPick(); }
    });
    return row;
  }

  function markSelected(tbody, row) {
    for (const r of tbody.rows) r.classList.toggle('selected', r === row);
    for (const r of tbody.rows) r.setAttribute('aria-selected', r === row ? 'true' : 'false');
  }

  // base64 -> object URL of a Blob with the file's content type. URLs are revoked when replaced.
  function decodeBase64(b64) {
    const bin = atob(b64 || '');
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function extension(name) { const i = name.lastIndexOf('.'); return i < 0 ? '' : name.slice(i + 1).toLowerCase(); }
  function fileUrl(file) {
    const type = CONTENT_TYPES[extension(file.name)] || 'application/octet-stream';
    return URL.createObjectURL(new Blob([decodeBase64(file.data)], { type }));
  }
  const objectUrls = { compose: [], listen: [] };
  function revokeUrls(group) { for (const u of objectUrls[group].splice(0)) URL.revokeObjectURL(u); }
  function keepUrl(group, url) { objectUrls[group].push(url); return url; }

  // The first sample's file with extension `ext` (sample-0.png rather than overview.png).
  function pickFile(files, ext) {
    const all = (files || []).filter((f) => extension(f.name) === ext);
    return all.find((f) => f.name.startsWith('sample-0.')) || all.find((f) => f.name.startsWith('sample-')) || all[0] || null;
  }

  function rollSeed() { return String(1 + Math.floor(Math.random() * 2147483648)); }  // 1..2^31

  function withToken(url) {
    const t = token();
    return t ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(t)}` : url;
  }

  // ---------------------------------------------------------------------------------------------------
  // Tabs

  const VIEWS = ['compose', 'experiments', 'listen'];
  const shown = new Set();

  function showView(name, focus) {
    if (!VIEWS.includes(name)) name = 'compose';
    for (const v of VIEWS) {
      const tab = $(`tab-${v}`);
      const on = v === name;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $(`view-${v}`).hidden = !on;
    }
    if (focus) $(`tab-${name}`).focus();
    if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
    const first = !shown.has(name);
    shown.add(name);
    if (name === 'experiments' && first) loadExperiments();
    if (name === 'listen') loadListenResults();
  }

  function bindTabs() {
    VIEWS.forEach((v, i) => {
      const tab = $(`tab-${v}`);
      tab.addEventListener('click', () => showView(v));
      tab.addEventListener('keydown', (ev) => {
        const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
        if (step) showView(VIEWS[(i + step + VIEWS.length) % VIEWS.length], true);
      });
    });
    window.addEventListener('hashchange', () => showView(location.hash.slice(1)));
  }

  // ---------------------------------------------------------------------------------------------------
  // Genres (Compose, Listen, Leaderboard)

  let genres = [];  // GenreSource messages

  function hasCheckpoint(g) { return num(g.checkpoint_id) > 0; }

  function fillGenreSelect(select, onlyWithCheckpoint) {
    const previous = select.value;
    const options = genres.map((g) => {
      const usable = !onlyWithCheckpoint || hasCheckpoint(g);
      const label = usable ? g.genre : `${g.genre} (${NO_CHECKPOINT_REASON})`;
      return el('option', { value: g.genre, text: label, disabled: !usable, title: usable ? '' : NO_CHECKPOINT_REASON });
    });
    if (options.length === 0) options.push(el('option', { value: '', text: 'no genres yet', disabled: true }));
    select.replaceChildren(...options);
    const keep = genres.find((g) => g.genre === previous && (!onlyWithCheckpoint || hasCheckpoint(g)));
    const first = genres.find((g) => !onlyWithCheckpoint || hasCheckpoint(g));
    select.value = keep ? keep.genre : first ? first.genre : '';
  }

  async function loadGenres() {
    const fresh = begin('genres');
    try {
      const response = await call('SampleService', 'ListGenres', {});
      if (!fresh()) return;
      genres = response.genres || [];
      fillGenreSelect($('compose-genre'), true);
      fillGenreSelect($('listen-genre'), true);
      fillGenreSelect($('leaderboard-genre'), false);
      const usable = genres.some(hasCheckpoint);
      $('compose-generate').disabled = !usable;
      $('listen-new-pair').disabled = !usable;
      if (genres.length === 0) {
        $('compose-genre-note').textContent = 'No genres yet: submit an experiment and let a trial store a checkpoint.';
      }
      composeGenreChanged();
      loadLeaderboard();
      if (!$('view-listen').hidden) loadListenResults();
    } catch (err) {
      if (fresh()) showError('Loading the genres (ListGenres)', err);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Compose

  function composeGenreChanged() {
    const genre = $('compose-genre').value;
    const g = genres.find((x) => x.genre === genre);
    const disabledOnes = genres.filter((x) => !hasCheckpoint(x)).map((x) => x.genre);
    let note = '';
    if (g && hasCheckpoint(g)) {
      note = `Best checkpoint of ${g.genre}: ${g.checkpoint_id} of trial ${g.trial_id} (experiment ${g.experiment_id}` +
        `${g.experiment_name ? ', ' + g.experiment_name : ''}), step ${g.step}, ${g.metric} ${fmt(g.value)}` +
        ` (${g.smaller_is_better ? 'smaller' : 'larger'} is better).`;
    }
    if (disabledOnes.length) note += ` Not yet available: ${disabledOnes.join(', ')} (${NO_CHECKPOINT_REASON}).`;
    $('compose-genre-note').textContent = note.trim();
    loadComposeTrials(genre);
  }

  async function loadComposeTrials(genre) {
    const select = $('compose-trial');
    const fresh = begin('compose-trials');
    select.replaceChildren(el('option', { value: '', text: 'best checkpoint of the genre' }));
    if (!genre) return;
    try {
      const response = await call('ListenService', 'Leaderboard', { genre });
      if (!fresh()) return;
      for (const e of response.entries || []) {
        const t = e.trial || {};
        if (!(num(e.checkpoint_id) > 0)) continue;
        const objective = e.has_objective ? `, ${e.metric} ${fmt(e.objective)}` : '';
        select.append(el('option', {
          value: String(t.id),
          text: `trial ${t.id} (${e.experiment_name || 'experiment ' + t.experiment_id}${objective}, step ${e.step})`,
        }));
      }
    } catch (err) {
      if (fresh()) showError(`Loading the trials of ${genre} (Leaderboard)`, err);
    }
  }

  function setComposeBusy(busy, text) {
    const button = $('compose-generate');
    button.disabled = busy || !genres.some(hasCheckpoint);
    button.textContent = busy ? 'Generating…' : 'Generate';
    $('view-compose').setAttribute('aria-busy', busy ? 'true' : 'false');
    const status = $('compose-status');
    status.textContent = text || '';
    status.classList.toggle('busy', busy);
  }

  async function generate(ev) {
    ev.preventDefault();
    clearError();
    const genre = $('compose-genre').value;
    if (!genre) { showError('Generate', new Error('pick a genre that has a checkpoint first')); return; }
    const seedInput = $('compose-seed');
    if (!seedInput.value.trim()) seedInput.value = rollSeed();
    const seed = seedInput.value.trim();
    // Only the shape is checked here; the coordinator judges the range (a uint64, beyond what a JS number holds).
    if (!/^[0-9]+$/.test(seed)) {
      showError('Generate', new Error(`seed: expected a whole number (0 or more), got "${seed}"`));
      seedInput.focus();
      return;
    }
    const request = { genre, n: 1, seed, formats: ['midi', 'png', 'wav', 'npz'] };
    const trial = $('compose-trial').value;
    if (trial) request.trial_id = trial;
    setComposeBusy(true, `Generating a ${genre} sample with seed ${seed}…`);
    const started = performance.now();
    try {
      const response = await call('SampleService', 'Generate', request);
      showComposeResult(response, seed, (performance.now() - started) / 1000);
    } catch (err) {
      setComposeBusy(false, '');
      showError('Generate', err);
      return;
    }
    setComposeBusy(false, $('compose-status').textContent);
  }

  function showComposeResult(r, seed, seconds) {
    revokeUrls('compose');
    const files = r.files || [];
    const base = `${r.genre || $('compose-genre').value}-seed${seed}-ckpt${r.checkpoint_id}`;
    const png = pickFile(files, 'png');
    const wav = pickFile(files, 'wav');
    const links = { midi: pickFile(files, 'mid'), wav, npz: pickFile(files, 'npz') };
    const img = $('compose-roll');
    if (png) img.src = keepUrl('compose', fileUrl(png)); else img.removeAttribute('src');
    const audio = $('compose-audio');
    if (wav) { audio.src = keepUrl('compose', fileUrl(wav)); audio.load(); } else { audio.removeAttribute('src'); audio.load(); }
    for (const [kind, file] of Object.entries(links)) {
      const a = $(`compose-download-${kind}`);
      if (file) {
        a.href = keepUrl('compose', fileUrl(file));
        a.download = `${base}.${kind === 'midi' ? 'mid' : kind}`;
        a.hidden = false;
      } else {
        a.removeAttribute('href');
        a.hidden = true;
      }
    }
    const e = genres.find((g) => String(g.experiment_id) === String(r.experiment_id));
    const name = e && e.experiment_name ? `, ${e.experiment_name}` : '';
    const source = $('compose-source');
    source.textContent = `${r.genre || ''} sample, seed ${seed}, from checkpoint ${r.checkpoint_id} of trial ${r.trial_id} ` +
      `(experiment ${r.experiment_id}${name}), step ${r.step}`;
    source.dataset.checkpointId = String(r.checkpoint_id);
    source.dataset.trialId = String(r.trial_id);
    $('compose-result').hidden = false;
    const missing = ['png', 'wav'].filter((x) => !pickFile(files, x));
    $('compose-status').textContent = `Done in ${seconds.toFixed(1)} s.` +
      (missing.length ? ` The answer had no ${missing.join(' or ')} file.` : '');
  }

  // ---------------------------------------------------------------------------------------------------
  // Experiments

  const experiments = new Map();  // id -> Experiment
  let selectedExperiment = null;
  let selectedTrial = null;
  const COUNT_ORDER = ['RUNNING', 'QUEUED', 'PAUSED', 'COMPLETED', 'FAILED', 'KILLED'];

  function trialCounts(counts) {
    const entries = Object.entries(counts || {}).filter(([, n]) => num(n) > 0);
    entries.sort(([a], [b]) => (COUNT_ORDER.indexOf(a) + 99) % 99 - (COUNT_ORDER.indexOf(b) + 99) % 99);
    const total = entries.reduce((s, [, n]) => s + num(n), 0);
    if (!total) return 'none';
    return `${total}: ` + entries.map(([k, n]) => `${n} ${k.toLowerCase()}`).join(', ');
  }

  async function loadExperiments() {
    const fresh = begin('experiments');
    try {
      const response = await call('ExperimentService', 'ListExperiments', {});
      if (!fresh()) return;
      experiments.clear();
      const list = response.experiments || [];
      for (const e of list) experiments.set(String(e.id), e);
      const tbody = $('experiments-table').tBodies[0];
      setRows(tbody, list.slice().reverse().map((e) => {
        const row = el('tr', { id: `experiment-row-${e.id}`, 'data-experiment-id': String(e.id) },
          el('td', { text: String(e.id) }),
          el('td', {}, el('span', { class: 'name', text: e.name || '(unnamed)' }),
            e.description ? el('div', { class: 'hint', text: e.description }) : null),
          el('td', {}, stateBadge(e.state, 'EXPERIMENT_')),
          el('td', { text: e.searcher || '' }),
          el('td', { text: `${e.metric || DEFAULT_METRIC} (${e.smaller_is_better ? 'min' : 'max'})` }),
          el('td', { text: trialCounts(e.trial_counts) }));
        return clickableRow(row, () => selectExperiment(String(e.id)));
      }));
      $('experiments-empty').hidden = list.length > 0;
      if (selectedExperiment && experiments.has(selectedExperiment)) {
        markSelected(tbody, $(`experiment-row-${selectedExperiment}`));
      }
    } catch (err) {
      if (fresh()) showError('Loading the experiments (ListExperiments)', err);
    }
  }

  function experimentMetric(id) {
    const e = experiments.get(String(id));
    return { metric: (e && e.metric) || DEFAULT_METRIC, smaller: e ? !!e.smaller_is_better : true };
  }

  function trialObjective(t, metric) {
    const last = t.last_metrics || {};
    if (Object.prototype.hasOwnProperty.call(last, metric)) return num(last[metric]);
    if (t.objective !== undefined && t.objective !== null) return num(t.objective);
    return null;
  }

  function hparamsText(h) {
    return Object.entries(h || {}).map(([k, v]) => `${k}=${v}`).join(', ');
  }

  async function selectExperiment(id, keepTrial) {
    selectedExperiment = id;
    if (!keepTrial) { selectedTrial = null; $('trial-section').hidden = true; }
    const tbody = $('experiments-table').tBodies[0];
    markSelected(tbody, $(`experiment-row-${id}`));
    const fresh = begin('trials');
    try {
      const response = await call('ExperimentService', 'ListTrials', { experiment_id: id });
      if (!fresh()) return;
      const e = experiments.get(id);
      const { metric, smaller } = experimentMetric(id);
      $('trials-title').textContent = `Trials of experiment ${id}${e && e.name ? ' (' + e.name + ')' : ''}`;
      $('trials-objective-head').textContent = `${metric} (${smaller ? 'min' : 'max'})`;
      const trials = response.trials || [];
      const rows = trials.map((t) => {
        const objective = trialObjective(t, metric);
        const parent = num(t.parent_trial_id) > 0 ? `trial ${t.parent_trial_id}` : '';
        const row = el('tr', { id: `trial-row-${t.id}`, 'data-trial-id': String(t.id), 'data-step': String(t.step) },
          el('td', { text: String(t.id) }),
          el('td', {}, stateBadge(t.state, 'TRIAL_'), t.restarts > 0 ? el('span', { class: 'hint', text: ` ${t.restarts} restart(s)` }) : null),
          el('td', { class: 'num', text: `${t.step} / ${t.target_steps}` }),
          el('td', { class: 'num', text: objective === null ? '—' : fmt(objective) }),
          el('td', { text: t.stop_reason || '', title: t.message || '' }),
          el('td', { text: parent }),
          el('td', { class: 'hparams', text: hparamsText(t.hparams) }));
        return clickableRow(row, () => selectTrial(String(t.id)));
      });
      setRows($('trials-table').tBodies[0], rows);
      $('trials-section').hidden = false;
      if (selectedTrial) markSelected($('trials-table').tBodies[0], $(`trial-row-${selectedTrial}`));
    } catch (err) {
      if (fresh()) showError(`Loading the trials of experiment ${id} (ListTrials)`, err);
    }
  }

  async function selectTrial(id) {
    selectedTrial = id;
    markSelected($('trials-table').tBodies[0], $(`trial-row-${id}`));
    const fresh = begin('trial');
    const { metric, smaller } = experimentMetric(selectedExperiment);
    $('trial-title').textContent = `Trial ${id}`;
    $('trial-section').hidden = false;
    $('trial-section').setAttribute('aria-busy', 'true');
    const [metrics, checkpoints] = await Promise.allSettled([
      call('ExperimentService', 'StreamTrialMetrics', { trial_id: id }),
      call('CheckpointService', 'ListCheckpoints', { trial_id: id }),
    ]);
    if (!fresh()) return;
    $('trial-section').setAttribute('aria-busy', 'false');
    if (metrics.status === 'fulfilled') {
      drawTrialCharts(metrics.value.points || [], metric, smaller);
    } else {
      showError(`Loading the metrics of trial ${id} (StreamTrialMetrics)`, metrics.reason);
    }
    if (checkpoints.status === 'fulfilled') {
      showCheckpoints(checkpoints.value.checkpoints || [], metric);
    } else {
      showError(`Loading the checkpoints of trial ${id} (ListCheckpoints)`, checkpoints.reason);
    }
  }

  // The [step, value] pairs of `metric` as last_metrics names it: evaluation values carry an "eval." prefix
  // there that the points' own keys do not; training lines and other kinds ("rating") keep their names.
  // `kind` limits the search to one kind of point. Non-finite values (NaN) are skipped.
  function series(points, metric, kind) {
    const out = [];
    for (const p of points) {
      if (kind && p.kind !== kind) continue;
      for (const [key, value] of Object.entries(p.values || {})) {
        if ((p.kind === 'eval' ? 'eval.' + key : key) !== metric) continue;
        const v = num(value);
        if (Number.isFinite(v)) out.push([num(p.step), v]);
      }
    }
    return out;
  }

  function drawTrialCharts(points, metric, smaller) {
    drawChart($('chart-losses'), [
      { name: 'd_loss', colour: TRACKS[1][1], points: series(points, 'd_loss', 'train') },
      { name: 'g_loss', colour: TRACKS[4][1], points: series(points, 'g_loss', 'train') },
    ], { title: 'Losses', yLabel: 'loss' });
    $('chart-objective-caption').textContent = `Objective: ${metric} (${smaller ? 'smaller' : 'larger'} is better)`;
    drawChart($('chart-objective'), [
      { name: metric, colour: TRACKS[2][1], points: series(points, metric) },
    ], { title: metric, yLabel: metric.replace(/^eval\./, '') });
  }

  // "Nice" tick values covering [lo, hi]; `integers` for steps (no 7.5).
  function ticks(lo, hi, count, integers) {
    if (!(hi > lo)) { const d = Math.abs(lo) || 1; lo -= d / 2; hi += d / 2; }
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const nice = [1, 2, 2.5, 5, 10].map((m) => m * mag).filter((s) => !integers || (s >= 1 && Number.isInteger(s)));
    const step = nice.find((s) => s >= raw) || (integers ? Math.max(1, Math.ceil(raw)) : 10 * mag);
    const first = Math.floor(lo / step) * step;
    const last = Math.ceil(hi / step) * step;
    const out = [];
    for (let v = first; v <= last + step / 2; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A line chart of `lines` ([{name, colour, points: [[x, y], ...]}]) with axes, ticks and a legend.
  function drawChart(box, lines, { title, yLabel }) {
    const W = 520, H = 260, m = { left: 62, right: 14, top: 28, bottom: 42 };
    const all = lines.flatMap((l) => l.points);
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': `${title}: ${all.length} points` });
    box.replaceChildren(root);
    if (all.length === 0) {
      root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no points yet'));
      return;
    }
    const xs = ticks(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])), 6, true);
    const ys = ticks(Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1])), 5);
    const [x0, x1, y0, y1] = [xs[0], xs[xs.length - 1], ys[0], ys[ys.length - 1]];
    const px = (x) => m.left + (x - x0) / (x1 - x0) * (W - m.left - m.right);
    const py = (y) => H - m.bottom - (y - y0) / (y1 - y0) * (H - m.top - m.bottom);
    const grid = svg('g', { class: 'grid' });
    for (const y of ys) {
      grid.append(svg('line', { x1: m.left, x2: W - m.right, y1: py(y), y2: py(y) }));
      grid.append(svg('text', { x: m.left - 6, y: py(y) + 4, 'text-anchor': 'end', class: 'tick' }, fmt(y)));
    }
    for (const x of xs) {
      grid.append(svg('line', { x1: px(x), x2: px(x), y1: m.top, y2: H - m.bottom, class: 'vertical' }));
      grid.append(svg('text', { x: px(x), y: H - m.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, fmt(x)));
    }
    root.append(grid);
    root.append(svg('line', { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom, class: 'axis' }));
    root.append(svg('line', { x1: m.left, x2: m.left, y1: m.top, y2: H - m.bottom, class: 'axis' }));
    root.append(svg('text', { x: (m.left + W - m.right) / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis-label' }, 'step'));
    root.append(svg('text', { x: 14, y: (m.top + H - m.bottom) / 2, 'text-anchor': 'middle', class: 'axis-label',
      transform: `rotate(-90 14 ${(m.top + H - m.bottom) / 2})` }, yLabel));
    let legendX = m.left;
    for (const line of lines) {
      if (line.points.length === 0) continue;
      const pts = line.points.slice().sort((a, b) => a[0] - b[0]);
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
      const path = svg('path', { d, class: 'series', stroke: line.colour, 'data-series': line.name, 'data-points': pts.length });
      path.append(svg('title', {}, `${line.name}: ${pts.length} points`));
      root.append(path);
      if (pts.length <= 60) {
        for (const p of pts) {
          const dot = svg('circle', { cx: px(p[0]).toFixed(1), cy: py(p[1]).toFixed(1), r: 2.5, fill: line.colour });
          dot.append(svg('title', {}, `${line.name} at step ${p[0]}: ${fmt(p[1])}`));
          root.append(dot);
        }
      }
      root.append(svg('rect', { x: legendX, y: 9, width: 12, height: 4, fill: line.colour }));
      const label = svg('text', { x: legendX + 16, y: 15, class: 'legend-text' }, `${line.name} (last ${fmt(pts[pts.length - 1][1])})`);
      root.append(label);
      legendX += 24 + 7 * label.textContent.length;
    }
  }

  function checkpointMetrics(metrics, metric) {
    const m = metrics || {};
    const keys = [metric, 'd_loss', 'g_loss'].filter((k, i, a) => k in m && a.indexOf(k) === i);
    return keys.map((k) => `${k} ${fmt(m[k])}`).join(' · ');
  }

  function showCheckpoints(list, metric) {
    const rows = list.map((c) => el('tr', { id: `checkpoint-row-${c.id}` },
      el('td', { text: String(c.id) }),
      el('td', { class: 'num', text: String(c.step) }),
      el('td', { class: 'num', text: bytes(c.size_bytes) }),
      el('td', {
        text: checkpointMetrics(c.metrics, metric),
        title: Object.entries(c.metrics || {}).map(([k, v]) => `${k} = ${fmt(v)}`).join('\n'),
      }),
      el('td', {}, el('a', {
        href: withToken(`api/checkpoints/${c.id}/download`),
        download: `ckpt-${c.id}-step${c.step}.tutti`, text: 'download',
      }))));
    setRows($('checkpoints-table').tBodies[0], rows);
    $('checkpoints-empty').hidden = list.length > 0;
  }

  // ---------------------------------------------------------------------------------------------------
  // Leaderboards (Experiments and Listen)

  function winRate(e) {
    const n = num(e.ratings) || 0;
    return `${n > 0 ? num(e.win_rate).toFixed(2) : '—'} (${n})`;
  }

  async function loadLeaderboard() {
    const genre = $('leaderboard-genre').value;
    const fresh = begin('leaderboard');
    if (!genre) { setRows($('leaderboard-table').tBodies[0], []); return; }
    try {
      const response = await call('ListenService', 'Leaderboard', { genre });
      if (!fresh()) return;
      const entries = response.entries || [];
      setRows($('leaderboard-table').tBodies[0], entries.map((e, i) => {
        const t = e.trial || {};
        return el('tr', { id: `leaderboard-row-${t.id}`, 'data-trial-id': String(t.id), 'data-ratings': String(e.ratings) },
          el('td', { class: 'num', text: String(i + 1) }),
          el('td', {}, `${t.id} `, stateBadge(t.state, 'TRIAL_')),
          el('td', { text: e.experiment_name || `experiment ${t.experiment_id}` }),
          el('td', { class: 'num', text: e.has_objective ? `${fmt(e.objective)}` : '—', title: e.metric || '' }),
          el('td', { text: num(e.checkpoint_id) > 0 ? `${e.checkpoint_id} (step ${e.step})` : '—' }),
          el('td', { class: 'num', text: winRate(e) }));
      }));
      $('leaderboard-empty').hidden = entries.length > 0;
      $('leaderboard-table').dataset.genre = genre;  // what the rows are of (tests wait for it)
    } catch (err) {
      if (fresh()) showError(`Loading the ${genre} leaderboard (Leaderboard)`, err);
    }
  }

  async function loadListenResults() {
    const genre = $('listen-genre').value;
    const fresh = begin('listen-results');
    $('listen-results-genre').textContent = genre ? `(${genre})` : '';
    if (!genre) return;
    try {
      const [board, ratings] = await Promise.all([
        call('ListenService', 'Leaderboard', { genre }),
        call('ListenService', 'ListRatings', { genre }),
      ]);
      if (!fresh()) return;
      const count = (ratings.ratings || []).length;
      const counter = $('listen-rating-count');
      counter.dataset.count = String(count);
      counter.dataset.genre = genre;
      counter.textContent = `${count} rated pair${count === 1 ? '' : 's'} of ${genre} so far.`;
      setRows($('listen-leaderboard').tBodies[0], (board.entries || []).map((e, i) => {
        const t = e.trial || {};
        return el('tr', { id: `listen-lb-row-${t.id}`, 'data-trial-id': String(t.id), 'data-ratings': String(e.ratings) },
          el('td', { class: 'num', text: String(i + 1) }),
          el('td', { text: String(t.id) }),
          el('td', { text: e.experiment_name || '' }),
          el('td', { class: 'num', text: e.has_objective ? fmt(e.objective) : '—', title: e.metric || '' }),
          el('td', { class: 'num', text: `${e.wins}-${e.losses}-${e.ties}` }),
          el('td', { class: 'num', text: String(e.ratings) }),
          el('td', { class: 'num', text: num(e.ratings) > 0 ? num(e.win_rate).toFixed(2) : '—' }));
      }));
    } catch (err) {
      if (fresh()) showError(`Loading the listening results of ${genre}`, err);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Listen

  let pair = null;  // {id, genre, seed}

  function setRateButtons(enabled) {
    for (const id of ['listen-rate-a', 'listen-rate-same', 'listen-rate-b']) $(id).disabled = !enabled;
  }

  function showSide(side, files) {
    const wav = pickFile(files, 'wav');
    const png = pickFile(files, 'png');
    const audio = $(`listen-${side}-audio`);
    if (wav) audio.src = keepUrl('listen', fileUrl(wav)); else audio.removeAttribute('src');
    audio.load();
    const img = $(`listen-${side}-roll`);
    if (png) img.src = keepUrl('listen', fileUrl(png)); else img.removeAttribute('src');
    $(`listen-${side}`).classList.remove('winner');
  }

  async function newPair(ev) {
    ev.preventDefault();
    clearError();
    const genre = $('listen-genre').value;
    if (!genre) { showError('New pair', new Error('pick a genre that has checkpoints first')); return; }
    const button = $('listen-new-pair');
    button.disabled = true;
    setRateButtons(false);
    $('listen-status').textContent = `Making a ${genre} pair…`;
    $('listen-status').classList.add('busy');
    $('view-listen').setAttribute('aria-busy', 'true');
    try {
      const r = await call('ListenService', 'CreateListenPair', { genre, formats: ['midi', 'png', 'wav'] });
      revokeUrls('listen');
      pair = { id: r.pair_id, genre: r.genre || genre, seed: r.seed };
      showSide('a', r.a || []);
      showSide('b', r.b || []);
      $('listen-reveal').textContent = '';
      $('listen-pair').hidden = false;
      $('listen-pair').dataset.pairId = String(r.pair_id);
      setRateButtons(true);
      $('listen-status').textContent = `Pair ready (seed ${r.seed}). Listen to both, then rate.`;
    } catch (err) {
      $('listen-status').textContent = '';
      showError('New pair (CreateListenPair)', err);
    } finally {
      button.disabled = !genres.some(hasCheckpoint);
      $('listen-status').classList.remove('busy');
      $('view-listen').setAttribute('aria-busy', 'false');
    }
    loadListenResults();
  }

  const CHOICE_TEXT = { RATING_A: 'A is better', RATING_B: 'B is better', RATING_SAME: 'the same' };

  async function rate(choice) {
    if (!pair) return;
    clearError();
    setRateButtons(false);
    const current = pair;
    try {
      const r = await call('ListenService', 'RateListenPair', { pair_id: current.id, choice });
      const x = r.rating || {};
      const reveal = $('listen-reveal');
      reveal.textContent = `A was trial ${x.trial_a} (checkpoint ${x.checkpoint_a}), ` +
        `B was trial ${x.trial_b} (checkpoint ${x.checkpoint_b}). You said: ${CHOICE_TEXT[x.choice || choice] || x.choice}.`;
      reveal.dataset.trialA = String(x.trial_a);
      reveal.dataset.trialB = String(x.trial_b);
      if (choice === 'RATING_A') $('listen-a').classList.add('winner');
      if (choice === 'RATING_B') $('listen-b').classList.add('winner');
      pair = null;  // rated once; "New pair" for the next
      $('listen-status').textContent = 'Thanks. New pair for another one.';
    } catch (err) {
      // A pair that can still be rated gets its buttons back; one the coordinator refuses for good does not.
      if (!(err instanceof ApiError) || !['ALREADY_EXISTS', 'NOT_FOUND', 'FAILED_PRECONDITION'].includes(err.code)) {
        setRateButtons(true);
      }
      showError('Rating the pair (RateListenPair)', err);
      return;
    }
    await loadListenResults();
    loadLeaderboard();
  }

  // ---------------------------------------------------------------------------------------------------
  // Start

  function reloadAll() {
    loadGenres();
    if (shown.has('experiments')) {
      loadExperiments().then(() => { if (selectedExperiment) selectExperiment(selectedExperiment, true); });
    }
  }

  function refreshExperiments() {
    clearError();
    loadExperiments().then(() => {
      if (selectedExperiment) {
        selectExperiment(selectedExperiment, true).then(() => { if (selectedTrial) selectTrial(selectedTrial); });
      }
    });
    loadLeaderboard();
  }

  function start() {
    window.addEventListener('error', (ev) => showError('The page', ev.error || new Error(ev.message)));
    window.addEventListener('unhandledrejection', (ev) => showError('The page', ev.reason));
    $('compose-seed').value = rollSeed();
    $('compose-seed-roll').addEventListener('click', () => { $('compose-seed').value = rollSeed(); });
    $('compose-form').addEventListener('submit', generate);
    $('compose-genre').addEventListener('change', () => { clearError(); composeGenreChanged(); });
    $('experiments-refresh').addEventListener('click', refreshExperiments);
    $('leaderboard-genre').addEventListener('change', () => { clearError(); loadLeaderboard(); });
    $('listen-form').addEventListener('submit', newPair);
    $('listen-genre').addEventListener('change', () => { clearError(); loadListenResults(); });
    $('listen-rate-a').addEventListener('click', () => rate('RATING_A'));
    $('listen-rate-same').addEventListener('click', () => rate('RATING_SAME'));
    $('listen-rate-b').addEventListener('click', () => rate('RATING_B'));
    $('error-dismiss').addEventListener('click', clearError);
    $('auth').addEventListener('submit', saveToken);
    setRateButtons(false);
    bindTabs();
    showView(location.hash.slice(1) || 'compose');
    loadGenres();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
