// The dashboard's views.  Each renders into `main` from the JSON API; every value
// from the server goes in as text (never as HTML).
import { get, post, nsPath, detailText, uuid } from './api.js';
import { draw } from './dag.js';
import { registry, liveness } from './workers.js';

export const STATUSES = ['CREATED', 'QUEUED', 'EXECUTED', 'SUCCESS', 'ERRORED', 'NEXT_CREATED_ERROR', 'RETRY_CREATED', 'PRUNED'];
const RUN_STATUSES = ['PENDING', 'SUCCESS', 'FAILED', 'CANCELLED'];
const color = (s) => `var(--${s})`;

export function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') e.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike a style attribute
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const badge = (s) => h('span', { class: 'badge', style: `background:${color(s)}`, 'data-status': s }, s);
const link = (href, text) => h('a', { href }, text);
const when = (t) => (t ? t.replace('T', ' ').replace(/\.\d+$/, '') : '—');
const json = (v) => h('pre', {}, JSON.stringify(v, null, 2));
const alert = (text) => h('div', { class: 'alert', role: 'alert' }, text);
const table = (heads, rows, caption) => h('div', { class: 'table-wrap' },
  h('table', {}, caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, rows)));

function progress(r) {
  const total = r.total_count || 1;
  const part = (n, s) => h('span', { style: `width:${(100 * n) / total}%;background:${color(s)}` });
  return h('div', { class: 'progress', role: 'img', 'aria-label': `${r.success_count} succeeded, ${r.pending_count} pending, ${r.errored_count} errored of ${r.total_count}` },
    part(r.success_count, 'SUCCESS'), part(r.pending_count, 'QUEUED'), part(r.errored_count, 'ERRORED'));
}

// ---- Overview ---------------------------------------------------------------------------
export async function overview(ctx) {
  const o = await get(nsPath(ctx.ns, '/overview'));
  const card = (label, n, s) => h('div', { class: 'card' }, h('div', { class: 'num', style: s ? `color:${color(s)}` : '' }, n), h('div', { class: 'muted' }, label));
  const ow = o.oldest_waiting;
  return [
    h('h1', {}, `Overview of ${ctx.ns}`),
    h('h2', {}, 'Unfinished states now'),
    h('div', { class: 'cards' }, ['CREATED', 'QUEUED', 'EXECUTED'].map((s) => card(s, o.states[s], s))),
    h('p', { class: 'muted' }, `Counted over the ${o.pending_runs_scanned} newest unfinished runs (at most ${o.pending_runs_limit}).`),
    h('h2', {}, `Recent runs (newest ${o.recent_runs.counted})`),
    h('div', { class: 'cards' }, RUN_STATUSES.map((s) => h('a', { href: `#/ns/${encodeURIComponent(ctx.ns)}/runs?status=${s}`, class: 'card', style: 'text-decoration:none' },
      h('div', { class: 'num', style: `color:${color(s)}` }, o.recent_runs[s]), h('div', { class: 'muted' }, s)))),
    h('h2', {}, 'Throughput: states finished per minute'),
    throughputChart(o.throughput),
    h('p', { class: 'muted' }, `Over the ${o.throughput_runs_limit} newest runs; the right-most bar is the current minute.`),
    h('h2', {}, 'Queue depth per node'),
    o.queue.length ? table(['Node', 'Waiting (CREATED)', 'Claimable now', 'Claimed (QUEUED)'],
      o.queue.map((q) => h('tr', {}, h('td', {}, q.node_name), h('td', {}, q.created), h('td', {}, q.claimable), h('td', {}, q.queued))), 'Queue depth per node')
      : h('p', { class: 'muted' }, 'Nothing is waiting.'),
    h('h2', {}, 'Oldest waiting state'),
    ow ? h('p', {}, link(`#/ns/${encodeURIComponent(ctx.ns)}/run/${ow.run_id}?state=${ow.state_id}`, `${ow.identifier} (${ow.node_name})`),
      ` of graph ${ow.graph_name}, waiting for ${Math.round(ow.waiting_ms / 1000)} s since ${when(ow.created_at)}`)
      : h('p', { class: 'muted' }, 'No state is waiting.'),
  ];
}

function throughputChart(minutes) {
  const top = Math.max(1, ...minutes.map((m) => m.succeeded + m.errored));
  const bars = [...minutes].reverse();
  return h('div', { class: 'throughput', role: 'img', id: 'throughput',
    'aria-label': bars.map((m) => `${m.minutes_ago} min ago: ${m.succeeded} succeeded, ${m.errored} errored`).join('; ') },
    bars.map((m) => h('div', { class: 'bar', title: `${m.minutes_ago} min ago: ${m.succeeded} succeeded, ${m.errored} errored` },
      h('span', { style: `height:${(100 * m.errored) / top}%;background:${color('ERRORED')}` }),
      h('span', { style: `height:${(100 * m.succeeded) / top}%;background:${color('SUCCESS')}` }),
      h('small', {}, m.succeeded + m.errored))));
}

// ---- Graphs -----------------------------------------------------------------------------
export async function graphs(ctx) {
  const g = await get(nsPath(ctx.ns, '/graphs/'));
  const rows = g.templates.map((t) => h('tr', {},
    h('td', {}, link(`#/ns/${encodeURIComponent(ctx.ns)}/graph/${encodeURIComponent(t.name)}`, t.name)),
    h('td', {}, badge(t.validation_status)),
    h('td', {}, (t.validation_errors || []).join('; ') || '—'),
    h('td', {}, t.nodes.length), h('td', { class: 'hide-narrow' }, when(t.updated_at))));
  return [h('h1', {}, `Graphs in ${ctx.ns}`),
    rows.length ? table(['Graph', 'Validation', 'Errors', 'Nodes', 'Updated'], rows, 'Graph templates') : h('p', { class: 'muted' }, 'No graph template in this namespace.')];
}

function templateDag(t) {
  const unitedBy = new Map();
  for (const n of t.nodes) if (n.unites) unitedBy.set(n.unites.identifier, n.identifier);
  const nodes = t.nodes.map((n) => ({ id: n.identifier, label: n.identifier, sub: n.node_name, kind: 'template',
    double: !!n.unites, stacked: unitedBy.has(n.identifier),
    aria: `${n.identifier}, node ${n.node_name}${n.unites ? `, unites ${n.unites.identifier}` : ''}${unitedBy.has(n.identifier) ? ', may fan out' : ''}` }));
  const edges = [];
  for (const n of t.nodes) {
    for (const next of n.next_nodes || []) edges.push({ from: n.identifier, to: next });
    if (n.unites) edges.push({ from: n.unites.identifier, to: n.identifier, kind: 'unites' });
  }
  return { nodes, edges };
}

function rootOf(t) {
  const targets = new Set(t.nodes.flatMap((n) => n.next_nodes || []));
  return t.nodes.find((n) => !targets.has(n.identifier)) || t.nodes[0];
}

export async function graph(ctx) {
  const list = await get(nsPath(ctx.ns, '/graphs/'));
  const t = list.templates.find((x) => x.name === ctx.arg);
  if (!t) return [alert(`Graph template ${ctx.arg} not found in namespace ${ctx.ns}`)];
  const dagBox = h('div', { class: 'dag-wrap' });
  const { nodes, edges } = templateDag(t);
  draw(dagBox, nodes, edges, null, `Template of graph ${t.name}`);
  const root = rootOf(t);
  const inputFields = Object.entries(root ? root.inputs : {}).map(([k, v]) =>
    h('label', {}, `Input ${k}`, h('input', { name: `input:${k}`, value: v })));
  const storeKeys = [...new Set([...(t.store_config.required_keys || []), ...Object.keys(t.store_config.default_values || {})])];
  const storeFields = storeKeys.map((k) => h('label', {}, `Store ${k}${(t.store_config.required_keys || []).includes(k) ? ' (required)' : ''}`,
    h('input', { name: `store:${k}`, value: (t.store_config.default_values || {})[k] || '' })));
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'form card', id: 'trigger-form', 'aria-label': 'Trigger a run' },
    h('h2', {}, 'Trigger a run'), ...inputFields, ...storeFields,
    h('label', {}, 'Start delay (ms)', h('input', { name: 'start_delay', type: 'number', min: 0, value: 0 })),
    h('div', {}, h('button', { type: 'submit' }, 'Trigger')), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { inputs: {}, store: {}, start_delay: Number(form.elements.start_delay.value || 0) };
    for (const e of form.elements) {
      if (!e.name || !e.name.includes(':')) continue;
      const [kind, key] = [e.name.slice(0, e.name.indexOf(':')), e.name.slice(e.name.indexOf(':') + 1)];
      if (kind === 'input') body.inputs[key] = e.value;
      else if (e.value !== '' || (t.store_config.required_keys || []).includes(key)) body.store[key] = e.value;
    }
    try {
      const r = await post(nsPath(ctx.ns, `/graph/${encodeURIComponent(t.name)}/trigger?extended=true`), body);
      location.hash = `#/ns/${encodeURIComponent(ctx.ns)}/run/${r.run_id}`;
    } catch (e) { msg.replaceChildren(alert(`Trigger refused: ${detailText(e)}`)); }
  });
  const nodeRows = t.nodes.map((n) => h('tr', {}, h('td', {}, n.identifier), h('td', {}, n.node_name),
    h('td', {}, h('code', {}, JSON.stringify(n.inputs))), h('td', {}, (n.next_nodes || []).join(', ') || '—'),
    h('td', {}, n.unites ? `${n.unites.identifier} (${n.unites.strategy || 'ALL_SUCCESS'})` : '—')));
  return [
    h('h1', {}, `Graph ${t.name} `, badge(t.validation_status)),
    (t.validation_errors || []).length ? alert(t.validation_errors.join('\n')) : null,
    h('p', {}, link(`#/ns/${encodeURIComponent(ctx.ns)}/runs?graph=${encodeURIComponent(t.name)}`, 'Runs of this graph')),
    dagBox,
    h('p', { class: 'muted' }, 'Dashed edges: a node uniting the branches of another; stacked nodes may fan out into many states.'),
    t.validation_status === 'VALID' ? form : h('p', { class: 'muted' }, 'Only a VALID graph can be triggered.'),
    h('h2', {}, 'Nodes'), table(['Identifier', 'Node', 'Inputs', 'Next', 'Unites'], nodeRows, 'Template nodes'),
    h('h2', {}, 'Retry policy'), json(t.retry_policy),
    h('h2', {}, 'Secrets'), h('p', {}, Object.keys(t.secrets || {}).join(', ') || 'none'),
    h('h2', {}, 'Triggers'), (t.triggers || []).length ? json(t.triggers) : h('p', { class: 'muted' }, 'No cron trigger.'),
    h('details', {}, h('summary', {}, 'Template JSON'), json({ ...t, secrets: Object.fromEntries(Object.keys(t.secrets || {}).map((k) => [k, true])) })),
  ];
}

// ---- Runs -------------------------------------------------------------------------------
function toMs(v) { return v ? String(Date.parse(v + 'Z')) : ''; }

export async function runs(ctx) {
  const q = ctx.query;
  const params = new URLSearchParams();
  if (q.get('status')) params.set('status', q.get('status'));
  if (q.get('graph')) params.set('graph', q.get('graph'));
  if (q.get('since')) params.set('since', toMs(q.get('since')));
  if (q.get('until')) params.set('until', toMs(q.get('until')));
  if (q.get('q')) params.set('run_id_prefix', q.get('q'));
  if (q.get('after')) params.set('after', q.get('after'));
  params.set('limit', q.get('limit') || '50');
  const [page, glist] = await Promise.all([get(nsPath(ctx.ns, `/runs?${params}`)), get(nsPath(ctx.ns, '/graphs/'))]);
  const here = (changes) => {
    const n = new URLSearchParams(q);
    for (const [k, v] of Object.entries(changes)) { if (v) n.set(k, v); else n.delete(k); }
    return `#/ns/${encodeURIComponent(ctx.ns)}/runs?${n}`;
  };
  const form = h('form', { class: 'filters card', id: 'runs-filter', 'aria-label': 'Filter runs' },
    h('label', {}, 'Status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'),
      RUN_STATUSES.map((s) => h('option', { value: s, selected: q.get('status') === s }, s)))),
    h('label', {}, 'Graph', h('select', { name: 'graph' }, h('option', { value: '' }, 'any'),
      glist.templates.map((t) => h('option', { value: t.name, selected: q.get('graph') === t.name }, t.name)))),
    h('label', {}, 'Since (UTC)', h('input', { type: 'datetime-local', name: 'since', value: q.get('since') || '' })),
    h('label', {}, 'Until (UTC)', h('input', { type: 'datetime-local', name: 'until', value: q.get('until') || '' })),
    h('label', {}, 'Run id starts with', h('input', { name: 'q', value: q.get('q') || '', spellcheck: 'false' })),
    h('label', {}, 'Auto-refresh', h('select', { name: 'refresh' },
      [['', 'live'], ['off', 'off'], ['5', '5 s'], ['10', '10 s'], ['30', '30 s'], ['60', '1 min']].map(([v, t]) => h('option', { value: v, selected: (q.get('refresh') || '') === v }, t)))),
    h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    location.hash = here({ status: f.status.value, graph: f.graph.value, since: f.since.value, until: f.until.value, q: f.q.value.trim(), refresh: f.refresh.value, after: '', prev: '' });
  });
  form.elements.refresh.addEventListener('change', () => form.requestSubmit());
  const rows = page.runs.map((r) => h('tr', { 'data-run': r.run_id },
    h('td', {}, link(`#/ns/${encodeURIComponent(ctx.ns)}/run/${r.run_id}`, h('code', {}, r.run_id))),
    h('td', {}, r.graph_name), h('td', {}, badge(r.status)),
    h('td', {}, progress(r), h('span', { class: 'muted' }, `${r.success_count}/${r.pending_count}/${r.errored_count} of ${r.total_count}`)),
    h('td', { class: 'hide-narrow' }, r.total_count), h('td', {}, when(r.created_at))));
  const prev = q.get('prev') ? q.get('prev').split(',') : [];
  const nav = h('div', { class: 'row' },
    q.get('after') ? h('a', { href: here({ after: prev.length > 1 ? prev[prev.length - 2] : '', prev: prev.slice(0, -1).join(',') }) }, '← Newer') : null,
    q.get('after') ? h('a', { href: here({ after: '', prev: '' }) }, 'Newest') : null,
    page.next ? h('a', { href: here({ after: page.next, prev: [...prev, page.next].join(',') }), id: 'next-page' }, 'Older →') : null);
  const refresh = Number(q.get('refresh') || 0);
  if (refresh) ctx.every(refresh * 1000);
  else if (q.get('refresh') !== 'off') ctx.live(nsPath(ctx.ns, `/runs/watch?${params}`), page.version); // the same filters
  return [h('h1', {}, `Runs in ${ctx.ns}`), form,
    rows.length ? table(['Run', 'Graph', 'Status', 'Progress (success/pending/errored)', 'States', 'Created'], rows, 'Runs') : h('p', { class: 'muted', id: 'no-runs' }, 'No run matches.'),
    nav];
}

// ---- One run ----------------------------------------------------------------------------
const FINISHED_BRANCH = new Set(['RETRY_CREATED']);

export async function run(ctx) {
  const id = ctx.arg;
  // the watched answer first: whatever changes after it wakes the live view, so the
  // run's view read next is never older than the version the page waits on
  const st = await get(nsPath(ctx.ns, `/run/${id}/states`));
  const view = await get(nsPath(ctx.ns, `/run/${id}`));
  let template = null;
  try {
    const list = await get(nsPath(ctx.ns, '/graphs/'));
    template = list.templates.find((t) => t.name === st.graph_name) || null;
  } catch { /* the graph was deleted: draw from the states alone */ }
  const waits = new Map((view.waiting ? view.waiting.states : []).map((w) => [w.state_id, w]));
  const byId = new Map(st.states.map((s) => [s.state_id, s]));
  // one DAG node per template identifier; its states are the branches
  const groups = new Map();
  const order = template ? template.nodes.map((n) => n.identifier) : [];
  for (const s of st.states) {
    if (!groups.has(s.identifier)) groups.set(s.identifier, []);
    groups.get(s.identifier).push(s);
    if (!order.includes(s.identifier)) order.push(s.identifier);
  }
  const expanded = ctx.query.get('expand');
  const nodes = order.map((ident) => {
    const all = groups.get(ident) || [];
    const live = all.filter((s) => !FINISHED_BRANCH.has(s.status));
    const shown = live.length ? live : all;
    const counts = {};
    for (const s of shown) counts[s.status] = (counts[s.status] || 0) + 1;
    const main = Object.keys(counts).sort((a, b) => counts[b] - counts[a])[0];
    const tn = template && template.nodes.find((n) => n.identifier === ident);
    const status = shown.length === 0 ? 'NONE' : shown.length === 1 ? shown[0].status : main;
    return { id: ident, label: ident, status, states: shown,
      sub: shown.length === 0 ? 'no state yet' : shown.length === 1 ? shown[0].status : `×${shown.length} ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`,
      color: shown.length === 0 ? '#8a92a3' : color(status), stacked: shown.length > 1, double: !!(tn && tn.unites),
      segments: shown.length > 1 ? STATUSES.filter((s) => counts[s]).map((s) => ({ color: color(s), n: counts[s] })) : null,
      aria: `${ident}: ${shown.length === 1 ? shown[0].status : `${shown.length} states`}` };
  });
  const edges = [];
  if (template) {
    for (const n of template.nodes) {
      for (const next of n.next_nodes || []) edges.push({ from: n.identifier, to: next });
      if (n.unites) edges.push({ from: n.unites.identifier, to: n.identifier, kind: 'unites' });
    }
  } else {
    for (const s of st.states) {
      const p = Object.values(s.parents || {}).pop();
      if (p && byId.has(p)) edges.push({ from: byId.get(p).identifier, to: s.identifier });
    }
  }
  const counts = {};
  for (const s of st.states) counts[s.status] = (counts[s.status] || 0) + 1;
  const panel = h('aside', { class: 'panel card', id: 'state-panel', 'aria-label': 'State details', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Pick a node to see its state.'));
  const branchBox = h('div', { id: 'branches' });
  const pickState = (s) => { ctx.setQuery({ state: s.state_id }); showState(ctx, panel, s, waits.get(s.state_id), view); };
  const showBranches = (n) => {
    ctx.setQuery({ expand: n.id });
    const limit = Number(branchBox.dataset.limit || 200);
    const list = n.states.slice(0, limit);
    branchBox.replaceChildren(h('div', { class: 'card' },
      h('h2', {}, `${n.id}: ${n.states.length} branches`),
      h('div', { class: 'branches', role: 'list' }, list.map((s, k) => h('button', { type: 'button', role: 'listitem', style: `background:${color(s.status)}`,
        title: `${s.status} ${s.state_id}`, 'aria-label': `branch ${k + 1} ${s.status}`, 'data-state': s.state_id, onclick: () => pickState(s) }, k + 1))),
      n.states.length > limit ? h('button', { type: 'button', class: 'secondary', onclick: () => { branchBox.dataset.limit = limit + 500; showBranches(n); } }, `Show ${Math.min(500, n.states.length - limit)} more`) : null));
  };
  const pick = (n) => {
    if (n.states.length === 1) pickState(n.states[0]);
    else if (n.states.length > 1) showBranches(n);
  };
  const dagBox = h('div', { class: 'dag-wrap', id: 'run-dag' });
  draw(dagBox, nodes, edges, pick, `States of run ${id}`);
  const actions = h('div', { class: 'row' });
  const msg = h('div', { 'aria-live': 'polite' });
  if ((counts.ERRORED || 0) + (counts.NEXT_CREATED_ERROR || 0) > 0 && view.status !== 'CANCELLED')
    actions.append(h('button', { type: 'button', id: 'retry-all', onclick: async () => {
      try { const r = await post(nsPath(ctx.ns, `/run/${id}/retry`)); msg.replaceChildren(h('div', { class: 'ok' }, `Retried ${r.count} states`)); ctx.refresh(); }
      catch (e) { msg.replaceChildren(alert(detailText(e))); } } }, 'Retry all errored states'));
  if (view.status === 'PENDING')
    actions.append(h('button', { type: 'button', class: 'secondary', id: 'cancel-run', onclick: async () => {
      if (!confirm('Cancel this run? Its unfinished states stop.')) return;
      try { await post(nsPath(ctx.ns, `/run/${id}/cancel`), { by: 'dashboard' }); ctx.refresh(); }
      catch (e) { msg.replaceChildren(alert(detailText(e))); } } }, 'Cancel run'));
  ctx.live(nsPath(ctx.ns, `/run/${id}/watch`), st.version); // the DAG follows every change of its states
  const out = [
    h('h1', {}, 'Run ', h('code', {}, id), ' ', h('span', { id: 'run-status' }, badge(view.status))),
    h('p', {}, 'Graph ', link(`#/ns/${encodeURIComponent(ctx.ns)}/graph/${encodeURIComponent(st.graph_name)}`, st.graph_name), `, created ${when(view.created_at)}`),
    h('div', { class: 'legend', id: 'run-counts' }, STATUSES.filter((s) => counts[s]).map((s) => h('span', {}, badge(s), ` ${counts[s]}`))),
    actions, msg,
    (view.waiting && view.waiting.unites || []).map((u) => h('p', { class: 'muted' }, u.message)),
    h('div', { class: 'layout-run' }, h('div', {}, dagBox, branchBox), panel),
  ];
  const want = ctx.query.get('state');
  if (expanded) { const n = nodes.find((x) => x.id === expanded); if (n && n.states.length > 1) showBranches(n); }
  if (want && byId.has(want)) showState(ctx, panel, byId.get(want), waits.get(want), view);
  return out;
}

function showState(ctx, panel, s, wait, view) {
  const msg = h('div', { 'aria-live': 'polite' });
  const parents = Object.entries(s.parents || {});
  const retry = h('button', { type: 'button', id: 'retry-state', onclick: async () => {
    retry.disabled = true;
    try {
      await post(nsPath(ctx.ns, `/state/${s.state_id}/manual-retry`), { fanout_id: uuid() });
      msg.replaceChildren(h('div', { class: 'ok' }, 'Retry created'));
      ctx.setQuery({ state: '' });
      ctx.refresh();
    } catch (e) { msg.replaceChildren(alert(`Retry refused: ${detailText(e)}`)); retry.disabled = false; }
  } }, 'Retry');
  const canRetry = ['ERRORED', 'NEXT_CREATED_ERROR'].includes(s.status) && view.status !== 'CANCELLED';
  panel.replaceChildren(...[
    h('h2', {}, s.identifier, ' ', badge(s.status)),
    s.error ? h('div', { class: 'alert', id: 'state-error' }, h('strong', {}, 'Error: '), s.error) : null,
    wait ? h('p', { id: 'state-wait' }, h('strong', {}, `Waiting (${wait.reason}): `), wait.message) : null,
    canRetry ? h('div', {}, retry) : null, msg,
    h('dl', { class: 'kv' },
      h('dt', {}, 'State id'), h('dd', {}, h('code', {}, s.state_id)),
      h('dt', {}, 'Node'), h('dd', {}, s.node_name),
      h('dt', {}, 'Retries'), h('dd', { id: 'state-retries' }, s.retry_count),
      h('dt', {}, 'Created'), h('dd', {}, when(s.created_at)),
      h('dt', {}, 'Last change'), h('dd', {}, when(s.updated_at)),
      h('dt', {}, 'Due at'), h('dd', {}, when(s.enqueue_after)),
      h('dt', {}, 'Lease ends'), h('dd', {}, when(s.lease_expires_at)),
      h('dt', {}, 'Worker'), h('dd', { id: 'state-worker' }, s.claimed_by
        ? [link(`#/ns/${encodeURIComponent(ctx.ns)}/workers`, s.claimed_by), wait && wait.worker_lost ? ' (lost)' : ''] : '—'),
      h('dt', {}, 'Parents'), h('dd', {}, parents.length ? parents.map(([k, v]) => h('div', {}, `${k}: `, h('code', {}, v))) : '—')),
    h('h3', {}, 'Inputs'), json(s.inputs), h('h3', {}, 'Outputs'), json(s.outputs),
    h('h3', {}, 'Logs'), stateLogs(ctx, s)].filter(Boolean));
}

// What the state's node printed, as its host reported it (GET state/{id}/logs):
// node output, so control characters are shown as \xHH and it goes in as text.
const visible = (t) => t.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
function stateLogs(ctx, s) {
  const box = h('div', { id: 'state-logs' }, h('p', { class: 'muted' }, 'Loading…'));
  get(nsPath(ctx.ns, `/state/${encodeURIComponent(s.state_id)}/logs`)).then((r) => {
    box.replaceChildren(typeof r.logs === 'string'
      ? h('pre', { class: 'logs' }, visible(r.logs))
      : h('p', { class: 'muted' }, ['CREATED', 'QUEUED'].includes(s.status) ? 'Not finished yet.' : 'Its worker reported no logs.'));
  }).catch((e) => box.replaceChildren(alert(`Logs unavailable: ${detailText(e)}`)));
  return box;
}

// ---- Nodes ------------------------------------------------------------------------------
export async function nodes(ctx) {
  const [n, reg] = await Promise.all([get(nsPath(ctx.ns, '/nodes/?extended=true')), registry(ctx.ns)]);
  const runtimes = new Map((reg ? reg.runtimes : []).map((r) => [r.runtime_name, r]));
  const serving = new Map(); // node -> {total, alive}, in one pass over the registry
  for (const r of reg ? reg.runtimes : []) {
    for (const name of r.nodes) {
      const c = serving.get(name) || { total: 0, alive: 0 };
      c.total += 1;
      c.alive += r.alive ? 1 : 0;
      serving.set(name, c);
    }
  }
  const registeredBy = (x) => {
    const r = runtimes.get(x.runtime_name);
    return h('td', {}, x.runtime_name, r ? [' ', liveness(r)] : null);
  };
  const workersOf = (x) => {
    const c = serving.get(x.name);
    if (!c) return h('td', { class: 'muted' }, reg ? 'no heartbeat' : '—');
    return h('td', { 'data-alive': c.alive }, c.alive ? `${c.alive} alive of ${c.total}` : h('strong', {}, `all ${c.total} lost`));
  };
  const rows = n.nodes.map((x) => h('tr', {}, h('td', {}, x.name), registeredBy(x), workersOf(x),
    h('td', {}, when(x.registered_at || x.updated_at)), h('td', {}, (x.secrets || []).join(', ') || '—'),
    h('td', {}, h('details', {}, h('summary', {}, 'inputs'), json(x.inputs_schema)), h('details', {}, h('summary', {}, 'outputs'), json(x.outputs_schema)))));
  return [h('h1', {}, `Nodes in ${ctx.ns}`),
    rows.length ? table(['Node', 'Registered by', 'Workers', 'Registered', 'Secrets', 'Schemas'], rows, 'Registered nodes') : h('p', { class: 'muted' }, 'No node registered in this namespace: start an exo-host.')];
}
