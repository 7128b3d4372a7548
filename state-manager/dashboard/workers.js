// The Workers view: the worker registry (GET runtimes), each runtime with its last
// heartbeat and whether it is alive or lost, and the nodes whose every runtime is
// lost (their states wait until a host that has them starts).
import { get, nsPath } from './api.js';
import { h } from './views.js';

const when = (t) => (t ? t.replace('T', ' ').replace(/\.\d+$/, '') : '—');
const seconds = (ms) => `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;

// The registry of ns, or null from a state manager without one.
export async function registry(ns) {
  try {
    return await get(nsPath(ns, '/runtimes'));
  } catch {
    return null;
  }
}

export function liveness(r) {
  return h('span', { class: `badge ${r.alive ? 'alive' : 'lost'}`, 'data-status': r.status }, r.status);
}

export async function workers(ctx) {
  const reg = await get(nsPath(ctx.ns, '/runtimes'));
  const rows = reg.runtimes.map((r) => h('tr', { 'data-runtime': r.runtime_name },
    h('td', {}, r.runtime_name), h('td', {}, liveness(r)),
    h('td', {}, when(r.last_seen), h('div', { class: 'muted' }, `${seconds(r.silent_ms)} ago`)),
    h('td', {}, r.hostname || '—'), h('td', {}, r.pid), h('td', {}, r.version || '—'),
    h('td', {}, `${r.running} of ${r.slots}`), h('td', {}, r.nodes.join(', ') || '—')));
  const out = [h('h1', {}, `Workers in ${ctx.ns}`),
    h('p', { class: 'muted' }, `A runtime is lost after ${reg.lost_after_intervals} missed heartbeats.`)];
  for (const node of reg.lost_nodes) {
    out.push(h('div', { class: 'alert', role: 'alert', 'data-lost-node': node },
      `Node ${node}: every runtime serving it is lost; its states wait until a host that has it starts.`));
  }
  out.push(rows.length
    ? h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'sr-only' }, 'Worker runtimes'),
      h('thead', {}, h('tr', {}, ['Runtime', 'Status', 'Last heartbeat', 'Host', 'PID', 'Version', 'Running', 'Nodes']
        .map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, rows)))
    : h('p', { class: 'muted' }, 'No worker has sent a heartbeat in this namespace: start an exo-host.'));
  return out;
}
