// Queues: every mas.* queue (GET /api/queues) with depth, consumers and rates (from two readings), sortable;
// queues past alert_thresholds.queue_size highlighted; create, purge and delete, each confirmed.
import {get, post, del, seg} from '../api.js';
import {h, errorBox, fmtNumber, confirmDialog, notify, replace} from '../dom.js';
import {scopes} from '../scopes.js';

const COLUMNS = [
  ['name', 'queue', false], ['kind', 'kind', false], ['depth', 'depth', true], ['consumers', 'consumers', true],
  ['inRate', 'in/s', true], ['outRate', 'out/s', true], ['added', 'added', true], ['acknowledged', 'acked', true],
  ['expired', 'expired', true], ['deadLettered', 'dead-lettered', true],
];

let previous = null; // {at, byName} of the last reading, for the rates
let sort = {key: 'depth', desc: true};

export async function render(container) {
  const status = h('div', {id: 'queues-status'});
  const legend = h('p', {class: 'muted', id: 'backlog-legend'});
  const table = h('div', {class: 'scroll', id: 'queues-table-box'});
  const refreshButton = h('button', {type: 'button', id: 'queues-refresh'}, 'Refresh');
  container.append(h('h1', {}, 'Queues'), createForm(() => refresh()), h('div', {class: 'toolbar'}, refreshButton, legend),
    status, table);

  let rows = [];
  let threshold = null;
  const draw = () => drawTable(table, rows, threshold, refresh);
  async function refresh() {
    try {
      const [body, alerts] = await Promise.all([get('/api/queues'), get('/api/alerts').catch(() => null)]);
      const now = Date.now();
      const byName = new Map(body.queues.map(q => [q.name, q]));
      const active = new Map(((alerts && alerts.active) || []).filter(a => a.alert === 'queue_size').map(a => [a.subject, a]));
      const known = [...((alerts && alerts.active) || []), ...((alerts && alerts.history) || [])].find(a => a.alert === 'queue_size');
      threshold = known ? known.threshold : null;
      rows = body.queues.map(q => {
        const before = previous && previous.byName.get(q.name);
        const seconds = previous ? (now - previous.at) / 1000 : 0;
        return Object.assign({}, q, {
          kind: q.agent !== undefined ? 'agent' : q.capability !== undefined ? 'capability' : 'broker',
          inRate: before && seconds > 0 ? Math.max(0, (q.added - before.added) / seconds) : null,
          outRate: before && seconds > 0 ? Math.max(0, (q.acknowledged - before.acknowledged) / seconds) : null,
          backlog: active.has(q.name) || (threshold !== null && q.depth > threshold),
        });
      });
      previous = {at: now, byName};
      legend.textContent = threshold !== null
        ? 'Highlighted: more than alert_thresholds.queue_size = ' + fmtNumber(threshold, 0) + ' messages waiting.'
        : 'Highlighted: queues with a firing queue_size alert.';
      replace(status);
      draw();
    } catch (e) {
      replace(status, errorBox(e, 'GET /api/queues'));
    }
  }
  refreshButton.addEventListener('click', refresh);
  await refresh();
  const timer = setInterval(refresh, 5000);
  return {stop() { clearInterval(timer); }};
}

function drawTable(box, rows, threshold, refresh) {
  const sorted = [...rows].sort((a, b) => {
    const x = a[sort.key], y = b[sort.key];
    const c = typeof x === 'number' || typeof y === 'number' ? (x ?? -1) - (y ?? -1) : String(x).localeCompare(String(y));
    return (sort.desc ? -c : c) || a.name.localeCompare(b.name);
  });
  const header = COLUMNS.map(([key, label, numeric]) => {
    const button = h('button', {type: 'button', class: 'sort', 'data-sort': key}, label,
      sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : '');
    button.addEventListener('click', () => {
      sort = {key, desc: sort.key === key ? !sort.desc : numeric};
      drawTable(box, rows, threshold, refresh);
    });
    return h('th', {class: numeric ? 'num' : null, 'aria-sort': sort.key === key ? (sort.desc ? 'descending' : 'ascending') : null}, button);
  });
  const operate = !scopes.lacks('operate');
  const why = operate ? null : "this API key lacks the scope 'operate'";
  replace(box, h('table', {id: 'queues-table'},
    h('thead', {}, h('tr', {}, header, h('th', {}, 'actions'))),
    h('tbody', {}, sorted.map(q => h('tr', {class: q.backlog ? 'backlog' : null, 'data-queue': q.name},
      COLUMNS.map(([key, , numeric]) => h('td', {class: numeric ? 'num' : key === 'name' ? 'id' : null},
        numeric ? fmtNumber(q[key], key.endsWith('Rate') ? 1 : 0) : q[key])),
      h('td', {class: 'row-actions'},
        q.kind !== 'broker' ? h('button', {type: 'button', class: 'purge', disabled: !operate, title: why,
          onclick: () => purge(q, refresh)}, 'Purge') : null,
        q.kind === 'agent' ? h('button', {type: 'button', class: 'delete danger', disabled: !operate, title: why,
          onclick: () => remove(q, refresh)}, 'Delete') : null))))));
}

function createForm(refresh) {
  const agent = h('input', {id: 'new-queue-agent', required: true, placeholder: 'agent id', pattern: '[A-Za-z0-9:_.\\-]{1,256}'});
  const maxDepth = h('input', {id: 'new-queue-max-depth', type: 'number', min: 1, placeholder: 'max depth (optional)'});
  const ttl = h('input', {id: 'new-queue-ttl', type: 'number', min: 0, placeholder: 'ttl s (optional)'});
  const result = h('div', {id: 'create-queue-result'});
  const form = h('form', {class: 'inline', id: 'create-queue', method: 'post'},
    h('label', {for: 'new-queue-agent'}, 'New agent queue'), agent, maxDepth, ttl,
    h('button', {type: 'submit'}, 'Create'), result);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    const body = {agent: agent.value.trim()};
    if (maxDepth.value) body.max_depth = Number(maxDepth.value);
    if (ttl.value) body.ttl = Number(ttl.value);
    if (!await confirmDialog('Create queue', 'Create the queue mas.agent.' + body.agent + '?', 'Create')) return;
    try {
      const created = await post('/api/queues', body);
      replace(result);
      notify('Created ' + (created && created.name || 'mas.agent.' + body.agent));
      agent.value = ''; maxDepth.value = ''; ttl.value = '';
      refresh();
    } catch (e) {
      scopes.note(e, 'operate');
      replace(result, errorBox(e, 'Create failed'));
    }
  });
  return form;
}

async function purge(queue, refresh) {
  if (!await confirmDialog('Purge queue', 'Remove every message (' + queue.depth + ' now) from ' + queue.name + '?', 'Purge')) return;
  try {
    const body = await post('/api/queues/' + seg(queue.name) + '/purge');
    notify('Purged ' + body.purged + ' message(s) from ' + queue.name);
  } catch (e) {
    scopes.note(e, 'operate');
    notify('Purge of ' + queue.name + ' failed: ' + e.message + ' ' + e.details.join('; '), 'error');
  }
  refresh();
}

async function remove(queue, refresh) {
  const force = h('input', {type: 'checkbox', id: 'delete-force'});
  const extra = queue.depth > 0 ? h('p', {}, h('label', {}, force, ' also drop its ' + queue.depth + ' message(s)')) : null;
  if (!await confirmDialog('Delete queue', 'Delete ' + queue.name + '? It comes back with the next message for its agent.',
    'Delete', extra)) return;
  try {
    await del('/api/queues/' + seg(queue.name) + (force.checked ? '?force=true' : ''));
    notify('Deleted ' + queue.name);
  } catch (e) {
    scopes.note(e, 'operate');
    notify('Delete of ' + queue.name + ' failed: ' + e.message + ' ' + e.details.join('; '), 'error');
  }
  refresh();
}
