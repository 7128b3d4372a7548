// A hand-written layered DAG layout (Sugiyama-lite) drawn as SVG: layers by longest
// path from the roots, order within a layer by the mean position of the parents
// (two sweeps), straight-ish cubic edges.  Nodes are keyboard-focusable buttons.
const SVG = 'http://www.w3.org/2000/svg';
const W = 170, H = 46, GX = 40, GY = 60;

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'fill') e.style.fill = v; // CSSOM, so var(--status) colours work and the CSP allows it
    else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
}

// nodes: [{id, label, sub, color, segments?: [{color, n}], stacked?}], edges: [{from, to, kind}]
export function layout(nodes, edges) {
  const ids = new Map(nodes.map((n, i) => [n.id, i]));
  const parents = nodes.map(() => []);
  const children = nodes.map(() => []);
  for (const e of edges) {
    if (!ids.has(e.from) || !ids.has(e.to) || e.kind === 'unites') continue;
    parents[ids.get(e.to)].push(ids.get(e.from));
    children[ids.get(e.from)].push(ids.get(e.to));
  }
  const layer = nodes.map(() => -1);
  const visit = (i, seen) => {
    if (layer[i] >= 0) return layer[i];
    if (seen.has(i)) return 0; // a cycle (never valid, still drawn)
    seen.add(i);
    let l = 0;
    for (const p of parents[i]) l = Math.max(l, visit(p, seen) + 1);
    layer[i] = l;
    return l;
  };
  nodes.forEach((_, i) => visit(i, new Set()));
  const layers = [];
  layer.forEach((l, i) => { (layers[l] = layers[l] || []).push(i); });
  const pos = new Map();
  layers.forEach((ls) => ls.forEach((i, k) => pos.set(i, k)));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const ls of layers.slice(1)) {
      const key = (i) => parents[i].length ? parents[i].reduce((a, p) => a + pos.get(p), 0) / parents[i].length : pos.get(i);
      ls.sort((a, b) => key(a) - key(b));
      ls.forEach((i, k) => pos.set(i, k));
    }
  }
  const widest = Math.max(1, ...layers.map((l) => l.length));
  const xy = nodes.map(() => null);
  layers.forEach((ls, l) => {
    const offset = (widest - ls.length) * (W + GX) / 2;
    ls.forEach((i, k) => { xy[i] = { x: 20 + offset + k * (W + GX), y: 20 + l * (H + GY) }; });
  });
  const unites = edges.some((e) => e.kind === 'unites') ? 140 : 0; // room for the unites curves and labels
  return { xy, width: 40 + widest * (W + GX) - GX + unites, height: 40 + layers.length * (H + GY) - GY, ids };
}

export function draw(container, nodes, edges, onPick, label) {
  const { xy, width, height, ids } = layout(nodes, edges);
  const svg = el('svg', { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': label });
  el('defs', {}, svg).innerHTML =
    '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7486"/></marker>';
  for (const e of edges) {
    if (!ids.has(e.from) || !ids.has(e.to)) continue;
    const a = xy[ids.get(e.from)], b = xy[ids.get(e.to)];
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    if (e.kind === 'unites') {
      // from the united node's side to the uniting node: dashed, labelled
      const sx = a.x + W, sy = a.y + H / 2, tx = b.x + W, ty = b.y + H / 2, bend = 60 + Math.abs(ty - sy) / 6;
      el('path', { class: 'edge unites', d: `M${sx},${sy} C${sx + bend},${sy} ${tx + bend},${ty} ${tx},${ty}`, 'marker-end': 'url(#arrow)' }, svg);
      el('text', { class: 'edge-label', x: Math.max(sx, tx) + bend / 2, y: (sy + ty) / 2 }, svg).textContent = 'unites';
      continue;
    }
    const my = (y1 + y2) / 2;
    el('path', { class: 'edge', d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }, svg);
  }
  nodes.forEach((n, i) => {
    const { x, y } = xy[i];
    const g = el('g', { class: `node ${n.kind || ''}`, transform: `translate(${x},${y})`, tabindex: 0, role: 'button',
      'aria-label': n.aria || `${n.label} ${n.sub || ''}`, 'data-id': n.id, 'data-status': n.status || '' }, svg);
    if (n.stacked) { // a fan-out: a stack of cards
      el('rect', { x: 8, y: -8, width: W, height: H, fill: '#9aa3b5' }, g);
      el('rect', { x: 4, y: -4, width: W, height: H, fill: '#b7bfcd' }, g);
    }
    el('rect', { class: 'box', width: W, height: H, fill: n.color || '#2d4f8f' }, g);
    if (n.segments) {
      const total = n.segments.reduce((a, s) => a + s.n, 0) || 1;
      let sx = 0;
      for (const s of n.segments) {
        const w = (W - 12) * s.n / total;
        el('rect', { x: 6 + sx, y: H - 9, width: Math.max(w, 0), height: 5, fill: s.color, stroke: 'none' }, g);
        sx += w;
      }
    }
    if (n.double) el('rect', { x: 3, y: 3, width: W - 6, height: H - 6, fill: 'none', stroke: '#fff', 'stroke-width': 1 }, g);
    const t = el('text', { x: 8, y: 18 }, g);
    t.textContent = n.label.length > 24 ? n.label.slice(0, 23) + '…' : n.label;
    const s = el('text', { x: 8, y: 33 }, g);
    s.textContent = n.sub || '';
    const pick = () => onPick && onPick(n);
    g.addEventListener('click', pick);
    g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } });
  });
  container.replaceChildren(svg);
  return svg;
}
