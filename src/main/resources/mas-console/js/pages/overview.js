// Overview: throughput, latency percentiles and failure rate over the last 15 minutes (GET /api/stats, polled),
// active alerts (GET /api/alerts), broker and ledger health (GET /observe/health), the deepest queues.
import {get, api} from '../api.js';
import {h, errorBox, fmtNumber, fmtTime, replace} from '../dom.js';
import {stats} from '../stats.js';

const CHARTS = [
  {id: 'throughput', title: 'Throughput (messages/s, last minute)', series: [['tput', 'delivered/s', '#2563eb']]},
  {id: 'latency', title: 'Latency arrival → queued (ms, last minute)',
    series: [['p50', 'p50', '#16a34a'], ['p95', 'p95', '#d97706'], ['p99', 'p99', '#dc2626']]},
  {id: 'failures', title: 'Failure rate (%, last minute)', series: [['fail', 'failed %', '#dc2626']]},
];

export async function render(container) {
  const health = h('section', {class: 'card', id: 'health'}, h('h2', {}, 'Health'), h('p', {class: 'muted'}, 'Loading…'));
  const numbers = h('section', {class: 'card', id: 'stats-numbers'}, h('h2', {}, 'Last 1, 5 and 15 minutes'));
  const alerts = h('section', {class: 'card', id: 'alerts'}, h('h2', {}, 'Active alerts'), h('p', {class: 'muted'}, 'Loading…'));
  const topQueues = h('section', {class: 'card', id: 'top-queues'}, h('h2', {}, 'Deepest queues'), h('p', {class: 'muted'}, 'Loading…'));
  const chartBoxes = CHARTS.map(c => h('section', {class: 'card chart', id: 'chart-' + c.id}, h('h2', {}, c.title),
    h('div', {class: 'plot'})));
  container.append(h('h1', {}, 'Overview'), h('div', {class: 'grid'}, health, alerts),
    h('div', {class: 'charts'}, chartBoxes), h('div', {class: 'grid wide'}, numbers, topQueues));

  const plots = CHARTS.map((c, i) => makeChart(c, chartBoxes[i].querySelector('.plot')));
  const unsubscribe = stats.subscribe(s => {
    showNumbers(numbers, s);
    plots.forEach(p => p && p.update(s.points));
  });
  const refresh = () => Promise.all([showHealth(health), showAlerts(alerts), showQueues(topQueues)]);
  await refresh();
  const timer = setInterval(refresh, 5000);
  return {stop() { clearInterval(timer); unsubscribe(); plots.forEach(p => p && p.destroy()); }};
}

function makeChart(config, target) {
  if (typeof window.uPlot !== 'function') {
    target.append(h('p', {class: 'error'}, 'The chart library did not load.'));
    return null;
  }
  const width = () => Math.max(240, target.clientWidth || 300);
  const opts = {
    width: width(), height: 180,
    // always the last 15 minutes, however few points there are yet
    scales: {x: {time: true, range: () => [Date.now() / 1000 - 15 * 60, Date.now() / 1000]},
      y: {range: (u, min, max) => [0, Math.max(max || 0, 1) * 1.1]}},
    series: [{}, ...config.series.map(([, label, stroke]) => ({label, stroke, width: 2, points: {show: true, size: 4}}))],
    axes: [{}, {size: 50}],
    legend: {show: true},
  };
  const plot = new window.uPlot(opts, data(config, []), target);
  const resize = new ResizeObserver(() => requestAnimationFrame(() => plot.setSize({width: width(), height: 180})));
  resize.observe(target);
  return {
    update(points) { plot.setData(data(config, points)); },
    destroy() { resize.disconnect(); plot.destroy(); },
  };
}

function data(config, points) {
  return [points.map(p => p.t), ...config.series.map(([key]) => points.map(p => p[key]))];
}

function showNumbers(box, s) {
  const body = [h('h2', {}, 'Last 1, 5 and 15 minutes')];
  if (s.error) body.push(errorBox(s.error, 'GET /api/stats'));
  if (s.latest) {
    const windows = s.latest.windows;
    const names = Object.keys(windows);
    const row = (label, f) => h('tr', {}, h('th', {scope: 'row'}, label), names.map(n => h('td', {class: 'num'}, f(windows[n]))));
    body.push(h('div', {class: 'scroll'}, h('table', {class: 'numbers'},
      h('thead', {}, h('tr', {}, h('th', {}, ''), names.map(n => h('th', {class: 'num'}, n)))),
      h('tbody', {},
        row('received', w => fmtNumber(w.received, 0)),
        row('delivered', w => fmtNumber(w.delivered, 0)),
        row('failed', w => fmtNumber(w.failed, 0)),
        row('throughput/s', w => fmtNumber(w.throughput_per_s)),
        row('latency p50 / p95 / p99 (ms)', w => [w.latency_ms.p50, w.latency_ms.p95, w.latency_ms.p99].map(v => fmtNumber(v, 1)).join(' / ')),
        row('failure rate', w => fmtNumber(w.failure_rate * 100, 2) + ' %')))));
  }
  replace(box, ...body);
}

async function showHealth(box) {
  const title = h('h2', {}, 'Health');
  try {
    // no key needed here; an answer of 503 (DOWN) still carries the checks
    const body = await api('GET', '/observe/health?exposureLevel=full', undefined, null)
      .catch(e => { if (e.body && e.body.status) return e.body; throw e; });
    const checks = Array.isArray(body.checks) ? body.checks : [];
    const find = name => checks.find(c => c.name === name);
    const down = checks.filter(c => c.status !== 'UP');
    const item = (label, check) => h('li', {},
      h('span', {class: 'badge health-' + (check ? check.status : 'UNKNOWN')}, check ? check.status : 'unknown'), ' ', label);
    replace(box, title, h('ul', {class: 'health'},
      item('Broker overall', {status: body.status}),
      item('Artemis', find('broker')),
      item('Delivery ledger (databases)', find('ledger-databases'))),
      down.length ? h('p', {class: 'error'}, 'Down: ' + down.map(c => c.name + (c.message ? ' (' + c.message + ')' : '')).join(', ')) : null);
  } catch (e) {
    replace(box, title, errorBox(e, 'GET /observe/health'));
  }
}

async function showAlerts(box) {
  const title = h('h2', {}, 'Active alerts');
  try {
    const body = await get('/api/alerts');
    const active = body.active || [];
    replace(box, title, active.length === 0 ? h('p', {class: 'muted', id: 'no-alerts'}, 'No alert is firing.')
      : h('div', {class: 'scroll'}, h('table', {id: 'alerts-table'},
        h('thead', {}, h('tr', {}, ['alert', 'severity', 'subject', 'value', 'threshold', 'since'].map(t => h('th', {}, t)))),
        h('tbody', {}, active.map(a => h('tr', {class: 'severity-' + String(a.severity).replace(/\W/g, '')},
          h('td', {}, a.alert), h('td', {}, a.severity), h('td', {class: 'id'}, a.subject), h('td', {class: 'num'}, fmtNumber(a.value)),
          h('td', {class: 'num'}, fmtNumber(a.threshold)), h('td', {}, fmtTime(a.at))))))));
  } catch (e) {
    replace(box, title, errorBox(e, 'GET /api/alerts'));
  }
}

async function showQueues(box) {
  const title = h('h2', {}, 'Deepest queues');
  try {
    const body = await get('/api/queues');
    const queues = [...(body.queues || [])].sort((a, b) => b.depth - a.depth || a.name.localeCompare(b.name)).slice(0, 8);
    replace(box, title, h('div', {class: 'scroll'}, h('table', {id: 'top-queues-table'},
      h('thead', {}, h('tr', {}, h('th', {}, 'queue'), h('th', {class: 'num'}, 'depth'), h('th', {class: 'num'}, 'consumers'))),
      h('tbody', {}, queues.map(q => h('tr', {}, h('td', {class: 'id'}, q.name), h('td', {class: 'num'}, fmtNumber(q.depth, 0)),
        h('td', {class: 'num'}, fmtNumber(q.consumers, 0))))))),
    h('p', {}, h('a', {href: '#/queues'}, 'All queues →')));
  } catch (e) {
    replace(box, title, errorBox(e, 'GET /api/queues'));
  }
}
