/**
 * The catalog page: one self-contained HTML file (no CDN: the service may have no internet,
 * and the static build must open from file://). The catalog document is embedded in the page
 * as JSON, so file:// needs no fetch; a small vanilla-JS app renders it. Every text from the
 * definitions goes through textContent, never innerHTML.
 */
import type { CatalogDocument } from '../core/catalog.js';

/** JSON safe inside a <script> element: no `</script>`, no HTML comment openers. */
function embeddedJson(doc: CatalogDocument): string {
  return JSON.stringify(doc)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function catalogPage(doc: CatalogDocument): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Strata catalog</title>',
    `<style>${STYLE}</style></head><body>`,
    '<header><h1>Strata catalog</h1>',
    '<input id="search" type="search" placeholder="Search sources, fields, inputs, trackers" autocomplete="off">',
    '<nav id="nav"></nav></header>',
    '<main><section id="results" hidden></section><section id="view"></section></main>',
    `<script id="catalog-data" type="application/json">${embeddedJson(doc)}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body></html>',
  ].join('\n');
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
#search{flex:1;min-width:240px;padding:6px 10px;border-radius:4px;border:0;font-size:14px}
nav a{color:#cfd8e3;margin-right:12px;cursor:pointer;text-decoration:none}
nav a.active{color:#fff;font-weight:600}
main{padding:16px 20px;max-width:1200px}
.card{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px;margin-bottom:12px}
.card h2{font-size:16px;margin:0 0 4px}
.muted{color:#667085}
table{border-collapse:collapse;width:100%;margin:6px 0}
td,th{border-bottom:1px solid #eef0f3;text-align:left;padding:3px 6px;vertical-align:top}
pre{background:#f1f3f6;padding:8px;overflow:auto;font-size:12px}
.tag{display:inline-block;background:#e8eef7;border-radius:3px;padding:0 6px;margin:1px 4px 1px 0;font-size:12px}
.stale{background:#fde2e1}.fresh{background:#dff5e3}
a.link{color:#1a5fb4;cursor:pointer}
svg text{font-size:12px}
`;

// Plain ES2015 in a string: no backticks or template placeholders inside.
const SCRIPT = String.raw`
(function () {
  'use strict';
  var doc = JSON.parse(document.getElementById('catalog-data').textContent);
  var view = document.getElementById('view');
  var results = document.getElementById('results');
  var search = document.getElementById('search');
  var nav = document.getElementById('nav');

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'onclick') node.addEventListener('click', attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function link(text, route) {
    return el('a', { 'class': 'link', text: text, href: '#' + route });
  }
  function tags(items, routeOf) {
    if (!items.length) return el('span', { 'class': 'muted', text: 'none' });
    return el('span', {}, items.map(function (i) { return el('span', { 'class': 'tag' }, [routeOf ? link(i, routeOf(i)) : i]); }));
  }
  function row(label, value) {
    return el('tr', {}, [el('th', { text: label }), el('td', {}, [typeof value === 'string' ? document.createTextNode(value) : value])]);
  }

  function memberTable(source, members, kind) {
    return el('table', { 'data-kind': kind }, [el('tr', {}, ['name', 'type', 'description', 'sql', 'used by'].map(function (h) { return el('th', { text: h }); }))].concat(
      members.map(function (m) {
        return el('tr', { id: 'member-' + source.name + '.' + m.name, 'data-member': source.name + '.' + m.name }, [
          el('td', {}, [link(m.name, 'lineage/field/' + source.name + '.' + m.name)]),
          el('td', { text: m.type + (m.aggregate ? ' (' + m.aggregate + ')' : '') }),
          el('td', { text: (m.label ? m.label + '. ' : '') + (m.description || '') }),
          el('td', {}, [m.sql ? el('code', { text: m.sql }) : null, m.filter ? el('div', { 'class': 'muted', text: 'filter: ' + m.filter }) : null]),
          el('td', { text: m.usedBy.inputs.length + ' inputs, ' + m.usedBy.trackers.length + ' trackers' })
        ]);
      })));
  }

  function sourceCard(s) {
    return el('div', { 'class': 'card', id: 'source-' + s.name, 'data-source': s.name }, [
      el('h2', { text: s.name }),
      el('div', { 'class': 'muted', text: s.description || '' }),
      el('table', {}, [
        row('owner', s.owner || '-'),
        row('tables', tags(s.tables, function (t) { return 'lineage/table/' + t; })),
        row('primary key', s.primaryKey.join(', ')),
        row('joins', tags(s.joins.map(function (j) { return j.to + ' (' + j.relationship + ')'; })))
      ]),
      el('h3', { text: 'Fields' }), memberTable(s, s.fields, 'fields'),
      s.measures.length ? el('h3', { text: 'Measures' }) : null,
      s.measures.length ? memberTable(s, s.measures, 'measures') : null
    ]);
  }

  function inputCard(i) {
    return el('div', { 'class': 'card', id: 'input-' + i.name, 'data-input': i.name }, [
      el('h2', { text: i.name }),
      el('div', { 'class': 'muted', text: i.description || '' }),
      el('table', {}, [row('sources', tags(i.sources, function (s) { return 'sources/' + s; })), row('trackers', tags(i.trackers, function (t) { return 'trackers/' + t; }))]),
      i.sql ? el('pre', { text: i.sql }) : el('div', { 'class': 'muted', text: i.error || '' })
    ]);
  }

  function trackerCard(t) {
    var f = t.freshness;
    return el('div', { 'class': 'card', id: 'tracker-' + t.name, 'data-tracker': t.name }, [
      el('h2', { text: t.name }),
      el('div', { 'class': 'muted', text: t.description || '' }),
      el('table', {}, [
        row('owner', t.owner || '-'),
        row('input', link(t.input, 'inputs/' + t.input)),
        row('schedule', t.schedule ? t.schedule + (t.timezone ? ' (' + t.timezone + ')' : '') : 'on demand'),
        row('refresh', t.refresh || 'always'),
        row('destinations', el('span', {}, t.destinations.map(function (d) { return el('div', { text: d.type + ' ' + d.mode + ': ' + d.target }); }))),
        row('freshness', f ? el('span', { 'class': 'tag ' + f.state, text: f.state + ': ' + f.reason }) : 'unknown'),
        row('last runs', t.runs.length ? el('span', {}, t.runs.map(function (r) {
          return el('div', { text: r.startedAt + ' ' + r.trigger + ' ' + r.status + (r.rows !== undefined ? ', ' + r.rows + ' rows' : '') + (r.error ? ': ' + r.error : '') });
        })) : 'none recorded')
      ])
    ]);
  }

  function pipelineCard(p) {
    var s = p.state;
    return el('div', { 'class': 'card', id: 'pipeline-' + p.name }, [
      el('h2', { text: p.name }),
      el('div', { 'class': 'muted', text: p.description || '' }),
      el('table', {}, [
        row('source', p.sourceType),
        row('tables', el('span', {}, p.tables.map(function (t) { return el('div', {}, [t.upstream + ' -> ', link(t.raw, 'lineage/table/' + t.raw)]); }))),
        row('status', s ? s.status + (s.error ? ': ' + s.error : '') : 'never run'),
        row('lag', s ? [s.lagSeconds !== undefined ? s.lagSeconds + ' s' : null, s.lagEvents !== undefined ? s.lagEvents + ' events' : null, s.lagBytes !== undefined ? s.lagBytes + ' bytes' : null].filter(Boolean).join(', ') || 'unknown' : 'unknown'),
        row('last commit', s && s.lastCommitAt ? s.lastCommitAt : '-')
      ])
    ]);
  }

  // The join graph: sources on a circle, one line per join (each pair once).
  function joinGraph() {
    // An ellipse as wide as the card: room for the labels of sources and relationships.
    var n = doc.sources.length, w = 1000, h = Math.max(360, 50 * n + 160), rx = w / 2 - 90, ry = h / 2 - 40;
    var pos = {};
    doc.sources.forEach(function (s, i) {
      var a = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
      pos[s.name] = { x: w / 2 + rx * Math.cos(a), y: h / 2 + ry * Math.sin(a) };
    });
    var ns = 'http://www.w3.org/2000/svg';
    function svg(tag, attrs, text) {
      var node = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text) node.textContent = text;
      return node;
    }
    var root = svg('svg', { id: 'join-graph', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h });
    var seen = {};
    doc.sources.forEach(function (s) {
      s.joins.forEach(function (j) {
        var key = [s.name, j.to].sort().join('|');
        if (seen[key] || !pos[j.to]) return;
        seen[key] = true;
        var a = pos[s.name], b = pos[j.to];
        root.appendChild(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: '#8a94a6', 'stroke-width': 1.5, 'data-join': key }));
        root.appendChild(svg('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4, fill: '#667085', 'text-anchor': 'middle' }, j.relationship));
      });
    });
    doc.sources.forEach(function (s) {
      var p = pos[s.name];
      var g = svg('g', { 'data-node': s.name, cursor: 'pointer' });
      g.appendChild(svg('rect', { x: p.x - 60, y: p.y - 14, width: 120, height: 28, rx: 6, fill: '#fff', stroke: '#1a5fb4' }));
      g.appendChild(svg('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle' }, s.name));
      g.addEventListener('click', function () { location.hash = 'sources/' + s.name; });
      root.appendChild(g);
    });
    return el('div', { 'class': 'card' }, [el('h2', { text: 'Join graph' }), root]);
  }

  function lineageFor(kind, name) {
    var box = el('div', { 'class': 'card', id: 'lineage' });
    if (kind === 'table') {
      var t = doc.tables.filter(function (x) { return x.table === name; })[0];
      if (!t) return el('div', { 'class': 'card', id: 'lineage', text: 'No visible source reads ' + name + '.' });
      box.appendChild(el('h2', { text: 'Lineage of table ' + name }));
      box.appendChild(el('table', {}, [
        row('sources', tags(t.sources, function (s) { return 'sources/' + s; })),
        row('fields', tags(t.fields, function (f) { return 'lineage/field/' + f; })),
        row('inputs', tags(t.inputs, function (i) { return 'inputs/' + i; })),
        el('tr', { 'data-lineage': 'trackers' }, [el('th', { text: 'trackers' }), el('td', {}, [tags(t.trackers, function (x) { return 'trackers/' + x; })])])
      ]));
      return box;
    }
    var dot = name.indexOf('.');
    var source = doc.sources.filter(function (s) { return s.name === name.slice(0, dot); })[0];
    var member = source && source.fields.concat(source.measures).filter(function (m) { return m.name === name.slice(dot + 1); })[0];
    if (!member) return el('div', { 'class': 'card', id: 'lineage', text: 'Unknown field ' + name + '.' });
    box.appendChild(el('h2', { text: 'Lineage of ' + name }));
    box.appendChild(el('table', {}, [
      row('tables', tags(source.tables, function (t) { return 'lineage/table/' + t; })),
      row('source', link(source.name, 'sources/' + source.name)),
      row('inputs', tags(member.usedBy.inputs, function (i) { return 'inputs/' + i; })),
      el('tr', { 'data-lineage': 'trackers' }, [el('th', { text: 'trackers' }), el('td', {}, [tags(member.usedBy.trackers, function (x) { return 'trackers/' + x; })])])
    ]));
    return box;
  }

  function lineageIndex() {
    return el('div', { 'class': 'card' }, [el('h2', { text: 'Raw tables' }),
      el('ul', {}, doc.tables.map(function (t) { return el('li', {}, [link(t.table, 'lineage/table/' + t.table), ' -> ' + t.sources.join(', ')]); }))]);
  }

  var pages = {
    sources: function (name) { return (name ? doc.sources.filter(function (s) { return s.name === name; }) : doc.sources).map(sourceCard); },
    graph: function () { return [joinGraph()]; },
    inputs: function (name) { return (name ? doc.inputs.filter(function (i) { return i.name === name; }) : doc.inputs).map(inputCard); },
    trackers: function (name) { return (name ? doc.trackers.filter(function (t) { return t.name === name; }) : doc.trackers).map(trackerCard); },
    pipelines: function () { return doc.pipelines.length ? doc.pipelines.map(pipelineCard) : [el('div', { 'class': 'card muted', text: 'No pipelines.' })]; },
    lineage: function (kind, name) { return kind ? [lineageFor(kind, name)] : [lineageIndex()]; }
  };

  function render() {
    var parts = decodeURIComponent(location.hash.replace(/^#/, '')).split('/');
    var page = pages[parts[0]] ? parts[0] : 'sources';
    Array.prototype.forEach.call(nav.children, function (a) { a.className = a.getAttribute('data-page') === page ? 'active' : ''; });
    view.replaceChildren.apply(view, pages[page](parts[1], parts.slice(2).join('/')));
  }

  // Search: every source, field, measure, input and tracker whose name, label or description matches.
  function entries() {
    var out = [];
    doc.sources.forEach(function (s) {
      out.push({ kind: 'source', name: s.name, text: s.name + ' ' + (s.description || ''), route: 'sources/' + s.name });
      s.fields.concat(s.measures).forEach(function (m) {
        out.push({ kind: s.fields.indexOf(m) >= 0 ? 'field' : 'measure', name: s.name + '.' + m.name, text: s.name + '.' + m.name + ' ' + (m.label || '') + ' ' + (m.description || ''), route: 'lineage/field/' + s.name + '.' + m.name });
      });
    });
    doc.inputs.forEach(function (i) { out.push({ kind: 'input', name: i.name, text: i.name + ' ' + (i.description || ''), route: 'inputs/' + i.name }); });
    doc.trackers.forEach(function (t) { out.push({ kind: 'tracker', name: t.name, text: t.name + ' ' + (t.description || ''), route: 'trackers/' + t.name }); });
    return out;
  }
  var index = entries();
  search.addEventListener('input', function () {
    var q = search.value.trim().toLowerCase();
    results.hidden = q === '';
    if (!q) return;
    var hits = index.filter(function (e) { return e.text.toLowerCase().indexOf(q) >= 0; }).slice(0, 50);
    results.replaceChildren(el('div', { 'class': 'card' }, [el('h2', { text: hits.length + ' results' }),
      el('ul', {}, hits.map(function (h) { return el('li', { 'data-result': h.kind + ':' + h.name }, [el('span', { 'class': 'tag', text: h.kind }), link(h.name, h.route)]); }))]));
  });

  [['sources', 'Sources'], ['graph', 'Join graph'], ['inputs', 'Inputs'], ['trackers', 'Trackers'], ['pipelines', 'Pipelines'], ['lineage', 'Lineage']].forEach(function (p) {
    nav.appendChild(el('a', { href: '#' + p[0], 'data-page': p[0], text: p[1] }));
  });
  window.addEventListener('hashchange', render);
  render();
  document.body.setAttribute('data-ready', 'true');
})();
`;
