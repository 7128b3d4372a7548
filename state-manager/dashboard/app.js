// exo dashboard: sign-in, hash routes (#/ns/<namespace>/<view>[/<arg>][?query]),
// the namespace selector and live refresh.  Every view is linkable by its URL.
import * as api from './api.js';
import * as views from './views.js';
import { workers } from './workers.js';

const { h } = views;
const main = document.getElementById('main');
const VIEWS = { overview: views.overview, graphs: views.graphs, graph: views.graph, runs: views.runs, run: views.run, nodes: views.nodes, workers };
let timer = null;
let generation = 0;
let lastNs = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'ns' && parts.length >= 2) return { ns: parts[1], view: parts[2] || 'overview', arg: parts.slice(3).join('/'), query: new URLSearchParams(qs || '') };
  return { ns: null, view: parts[0] || '', query: new URLSearchParams(qs || '') };
}

function say(text) { document.getElementById('status').textContent = text; }

function signInView(message) {
  document.getElementById('top').hidden = true;
  const err = h('div', { id: 'signin-error', 'aria-live': 'assertive' }, message ? h('div', { class: 'alert', role: 'alert' }, message) : null);
  const form = h('form', { class: 'card form signin', id: 'signin-form' },
    h('h1', {}, 'Sign in to exo'),
    h('p', { class: 'muted' }, "Type the state manager's API key (STATE_MANAGER_SECRET). It is exchanged for a session cookie and not kept by the page."),
    h('label', {}, 'API key', h('input', { type: 'password', name: 'key', id: 'api-key', autocomplete: 'current-password', required: true })),
    err, h('div', {}, h('button', { type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = form.elements.key.value;
    form.elements.key.value = '';
    try {
      await api.signIn(key);
      if (!location.hash || location.hash === '#/signin') location.hash = '#/';
      else render();
    } catch (e) {
      err.replaceChildren(h('div', { class: 'alert', role: 'alert' }, e.status === 401 ? api.detailText(e) : `Sign-in failed: ${api.detailText(e)}`));
      form.elements.key.focus();
    }
  });
  main.replaceChildren(form);
  form.elements.key.focus();
}

async function defaultNamespace() {
  try {
    const n = await api.get('/v0/namespaces');
    return n.namespaces[0] || 'default';
  } catch { return 'default'; }
}

async function fillNamespaces(ns) {
  const input = document.getElementById('ns-input');
  input.value = ns;
  if (lastNs === ns) return;
  lastNs = ns;
  try {
    const n = await api.get('/v0/namespaces');
    document.getElementById('ns-list').replaceChildren(...n.namespaces.map((x) => h('option', { value: x })));
  } catch { /* the selector still takes typed names */ }
}

function setNav(route) {
  for (const a of document.querySelectorAll('#nav a')) {
    a.href = `#/ns/${encodeURIComponent(route.ns)}/${a.dataset.view}`;
    const current = a.dataset.view === route.view || (route.view === 'graph' && a.dataset.view === 'graphs') || (route.view === 'run' && a.dataset.view === 'runs');
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function render() {
  clearTimeout(timer);
  const my = ++generation;
  if (!api.signedIn()) { signInView(); return; }
  const route = parseHash();
  if (!route.ns) { location.replace(`#/ns/${encodeURIComponent(await defaultNamespace())}/overview`); return; }
  const fn = VIEWS[route.view];
  document.getElementById('top').hidden = false;
  setNav(route);
  fillNamespaces(route.ns);
  if (!fn) { main.replaceChildren(h('div', { class: 'alert', role: 'alert' }, `No view named ${route.view}`)); return; }
  let every = 0;
  const ctx = {
    ns: route.ns, arg: route.arg, query: route.query,
    every: (ms) => { every = ms; },
    refresh: () => render(),
    setQuery: (changes) => {
      const q = new URLSearchParams(route.query);
      for (const [k, v] of Object.entries(changes)) { if (v) q.set(k, v); else q.delete(k); }
      route.query = q;
      const path = location.hash.split('?')[0];
      history.replaceState(null, '', `${path}${q.toString() ? `?${q}` : ''}`);
    },
  };
  const hash = location.hash;
  const focused = document.activeElement && (document.activeElement.dataset.id || document.activeElement.dataset.state);
  try {
    const nodes = await fn(ctx);
    if (my !== generation) return; // a newer navigation won
    main.replaceChildren(...[nodes].flat().filter(Boolean));
    main.dataset.view = route.view;
    main.dataset.hash = hash; // what is shown (tests wait for it)
    main.dataset.rendered = String(Date.now());
    document.title = `exo · ${route.view} · ${route.ns}`;
    if (focused) {
      const again = main.querySelector(`[data-id="${CSS.escape(focused)}"], [data-state="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  } catch (e) {
    if (my !== generation) return;
    if (!api.signedIn()) return;
    main.replaceChildren(h('div', { class: 'alert', role: 'alert' }, api.detailText(e)));
  }
  if (every && my === generation) timer = setTimeout(() => { if (my === generation) render(); }, every);
}

api.setSignedOutHandler((message) => { clearTimeout(timer); signInView(message); });

document.getElementById('ns-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const ns = document.getElementById('ns-input').value.trim();
  if (!ns) return;
  const route = parseHash();
  const view = ['graph', 'run'].includes(route.view) ? (route.view === 'graph' ? 'graphs' : 'runs') : (route.view || 'overview');
  location.hash = `#/ns/${encodeURIComponent(ns)}/${view}`;
});

document.getElementById('signout').addEventListener('click', async () => {
  clearTimeout(timer);
  try { await api.signOut(); } catch { /* already ended */ }
  say('Signed out');
  signInView('Signed out.');
});

window.addEventListener('hashchange', () => { main.focus({ preventScroll: true }); render(); });

(async () => {
  await api.resumeSession();
  render();
})();
