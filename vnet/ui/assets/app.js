// minikube-net's live dashboard. Everything shown comes from /api/state and /api/events: the same
// answers `get svc`, `get routes` and `conntrack -o json` print (lib/ui's Snapshot). Text is set
// with textContent only (names come from a lab file); the graph is Graphviz's SVG from the server.
'use strict';

const $ = (id) => document.getElementById(id);
let lastSvg = null;
let lastSnapshot = null;
let selectedTrace = null; // a trace id the user clicked; null: the newest
const previous = new Map(); // "svc/port/counter" -> value, to mark what changed

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function num(key, value) {
  const td = el('td', {class: 'num', 'data-counter': key.split('/').pop(), 'data-value': value}, value);
  if (previous.has(key) && previous.get(key) !== value) td.parentChanged = true;
  previous.set(key, value);
  return td;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function renderGraph(s) {
  const svg = s.graph ? s.graph.svg : '';
  if (svg !== lastSvg) {
    lastSvg = svg;
    const box = $('graph');
    if (!svg) {
      box.replaceChildren(el('p', {}, 'no drawing (see the errors above)'));
    } else {
      const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
      box.replaceChildren(document.importNode(doc.documentElement, true));
    }
  }
  drawHighlight(s);
}

// Graphviz titles each node <g> with its DOT id (the vertex id) and each edge with "a--b".
function drawHighlight(s) {
  const box = $('graph');
  box.querySelectorAll('g.hl, g.lost').forEach((g) => g.classList.remove('hl', 'lost'));
  const traces = s.traces || [];
  const t = traces.find((x) => x.id === selectedTrace) || traces[0];
  if (!t || !t.highlight || !t.highlight.vertices) return;
  const vs = new Set(t.highlight.vertices);
  const es = new Set();
  for (const [a, b] of t.highlight.edges) { es.add(a + '--' + b); es.add(b + '--' + a); }
  box.querySelectorAll('g.node, g.edge').forEach((g) => {
    const title = g.querySelector('title');
    if (!title) return;
    const id = title.textContent;
    if (g.classList.contains('node') && vs.has(id)) g.classList.add('hl');
    if (g.classList.contains('edge') && es.has(id)) g.classList.add('hl');
    if (g.classList.contains('node') && id === t.highlight.missing) g.classList.add('lost');
  });
}

function renderNodes(s) {
  const vertices = (s.graph && s.graph.vertices) || [];
  const nodes = vertices.filter((v) => v.kind === 'node');
  const pods = vertices.filter((v) => v.kind === 'pod');
  const items = nodes.map((n) => {
    const mine = pods.filter((p) => p.group === n.group);
    return el('li', {'data-id': n.id, 'data-kind': 'node'},
      el('b', {}, n.lines[0]), ' ', n.lines.slice(1).join(' · '),
      el('ul', {}, ...mine.map((p) => el('li', {'data-id': p.id, 'data-kind': 'pod'}, p.lines.join(' ')))));
  });
  const loose = pods.filter((p) => !nodes.some((n) => n.group === p.group));
  for (const p of loose) items.push(el('li', {'data-id': p.id, 'data-kind': 'pod'}, p.lines.join(' ')));
  $('nodes').replaceChildren(...items);

  // The trace form's choices, what `trace` (and /api/trace) takes: pods, nodes and the underlay as
  // sources; pods, nodes, Services and each node's NodePorts (NODE:PORT) as destinations.
  const src = $('trace-src');
  const chosen = src.value;
  const names = pods.map((p) => p.lines[0]);
  const nodeNames = nodes.map((n) => n.id.replace(/^node\//, ''));
  const groups = [['pods', names], ['nodes', nodeNames], ['underlay', ['underlay']]];
  const all = groups.flatMap(([, g]) => g);
  if (src.options.length !== all.length || all.some((n, i) => src.options[i].value !== n)) {
    src.replaceChildren(...groups.filter(([, g]) => g.length).map(([label, g]) =>
      el('optgroup', {label}, ...g.map((n) => el('option', {value: n}, n)))));
    if (all.includes(chosen)) src.value = chosen;
  }
  const services = (s.services && s.services.services) || [];
  const svcs = services.flatMap((v) => v.ports.map((p) => 'svc/' + v.name + ':' + p.port));
  const nodePorts = services.flatMap((v) => v.ports.filter((p) => p.node_port).map((p) => p.node_port));
  const nps = nodeNames.flatMap((n) => [...new Set(nodePorts)].map((p) => n + ':' + p));
  $('trace-dsts').replaceChildren(...names.concat(nodeNames, svcs, nps).map((n) => el('option', {value: n})));
}

function renderServices(s) {
  const a = s.services;
  $('proxy-mode').textContent = a ? 'proxy mode ' + a.proxy_mode + (a.proxy_error ? ' — ' + a.proxy_error : '') : '';
  const rows = [];
  for (const svc of (a && a.services) || []) {
    const eps = svc.endpoints.map((e) => e.pod + ' ' + e.ip).join(', ') || 'none';
    svc.ports.forEach((p, i) => {
      const c = p.counters || {};
      const key = svc.name + '/' + p.port + '/' + p.protocol + '/';
      const cells = ['packets', 'bytes', 'new_flows', 'flows'].map((k) => num(key + k, c[k] === undefined ? '-' : c[k]));
      const tr = el('tr', {'data-svc': svc.name, 'data-port': p.port, 'data-protocol': p.protocol},
        el('td', {}, i === 0 ? svc.name : ''), el('td', {}, svc.type), el('td', {}, svc.cluster_ip),
        el('td', {}, p.port + '/' + p.protocol + (p.node_port ? ' (NodePort ' + p.node_port + ')' : '')),
        ...cells, el('td', {class: 'endpoints'}, eps));
      if (cells.some((td) => td.parentChanged)) tr.classList.add('changed');
      rows.push(tr);
    });
  }
  fill($('services').tBodies[0], rows);
}

function renderRoutes(s) {
  const a = s.routes;
  $('routes-pane').hidden = !a;
  if (!a) return;
  fill($('routes').tBodies[0], a.routes.map((r) => {
    const key = 'route/' + r.route + '/';
    return el('tr', {'data-route': r.route}, el('td', {}, r.route), num(key + 'requests', r.requests),
      ...r.by_class.map((n, i) => num(key + (i + 1) + 'xx', n)),
      num(key + 'bytes_in', r.bytes_in), num(key + 'bytes_out', r.bytes_out));
  }));
  $('listeners').replaceChildren(...(a.listener_stats || []).map((l) =>
    el('li', {}, l.listener + ': ' + l.connections + ' open, ' + l.accepted + ' accepted, ' + l.refused + ' refused')));
}

function renderFlows(s) {
  const flows = (s.conntrack && s.conntrack.flows) || [];
  $('flow-count').textContent = s.conntrack ? '(' + flows.length + ')' : '';
  fill($('flows').tBodies[0], flows.map((f) => el('tr', {},
    el('td', {}, f.node), el('td', {}, f.protocol), el('td', {}, f.state), el('td', {}, f.service),
    el('td', {}, f.original), el('td', {}, f.reply), el('td', {}, f.endpoint),
    el('td', {class: 'num'}, f.packets), el('td', {class: 'num'}, f.bytes))));
}

function hopLine(h) {
  const where = h.interface ? h.object + ':' + h.interface : h.object + ' (' + h.role + ')';
  const p = h.packet || h.expected;
  // An ICMP echo has an identifier, not ports; a port the masquerade picks is null (any): '*'.
  const port = (n) => (n === null || n === undefined ? '*' : n);
  const pkt = p.id !== undefined ? p.src + ' > ' + p.dst + ' id ' + port(p.id)
    : p.src + ':' + port(p.sport) + ' > ' + p.dst + ':' + port(p.dport);
  const outer = h.outer ? ' in ' + h.outer.encap + ' ' + h.outer.src + ' > ' + h.outer.dst : '';
  return (h.seen ? '  ' : '✗ ') + h.leg.padEnd(8) + where.padEnd(28) + ' ' + (h.direction || '-').padEnd(4) +
    pkt + outer + (h.why ? '   ' + h.why : '');
}

function renderTraces(s) {
  const items = (s.traces || []).map((t) => {
    const ok = t.result && t.result.ok;
    const head = '#' + t.id + ' ' + t.src + ' → ' + t.dst + (t.proto ? ' (' + t.proto + ')' : '') + ': ';
    const li = el('li', {'data-trace': t.id, class: t.error ? 'fail' : ok ? 'ok' : 'fail'},
      head, t.error ? t.error : t.result.summary);
    if (!t.error && t.result.hops) li.append(el('div', {class: 'hops'}, t.result.hops.map(hopLine).join('\n')));
    if (t.id === selectedTrace) li.classList.add('selected');
    li.addEventListener('click', () => { selectedTrace = t.id; render(lastSnapshot); });
    return li;
  });
  $('traces').replaceChildren(...items);
}

function render(s) {
  if (!s) return;
  lastSnapshot = s;
  $('cluster').textContent = s.cluster;
  $('title').textContent = (s.graph && s.graph.title) || '';
  const errs = s.errors || [];
  $('errors').hidden = errs.length === 0;
  $('errors').textContent = errs.join('\n');
  renderGraph(s);
  renderNodes(s);
  renderServices(s);
  renderRoutes(s);
  renderFlows(s);
  renderTraces(s);
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
  document.body.dataset.ready = '1';
}

function connect() {
  const es = new EventSource('api/events');
  es.addEventListener('state', (e) => render(JSON.parse(e.data)));
  es.onopen = () => { $('live').textContent = 'live'; $('live').className = 'on'; };
  es.onerror = () => { $('live').textContent = 'reconnecting'; $('live').className = 'off'; };
}

$('trace-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = new URLSearchParams(new FormData(e.target));
  $('trace-run').disabled = true;
  $('trace-status').textContent = 'tracing…';
  try {
    const r = await fetch('api/trace', {method: 'POST', body});
    const text = await r.text();
    let t = null;
    try { t = JSON.parse(text); } catch (_) { /* a plain-text refusal */ }
    $('trace-status').textContent = t ? (t.error || t.result.summary) : text.trim();
    if (t && t.id) selectedTrace = t.id;
    const again = await fetch('api/state');
    if (again.ok) render(await again.json());
  } catch (err) {
    $('trace-status').textContent = String(err);
  } finally {
    $('trace-run').disabled = false;
  }
});

fetch('api/state').then((r) => (r.ok ? r.json() : null)).then(render).catch(() => {});
connect();
