// Dead letters: GET /api/dlq filtered by agent, reason and time; one opened shows its envelope, reason, attempts and
// timeline (GET /api/messages/{id}); replay as it was or edited (POST /api/dlq/{id}/replay), delete
// (DELETE /api/dlq/{id}); each confirmed, and the list changed at once.
import {get, post, del, seg} from '../api.js';
import {h, errorBox, fmtTime, fmtNumber, confirmDialog, notify, replace} from '../dom.js';
import {timelinePicture, recipientsTable} from '../timeline.js';
import {scopes} from '../scopes.js';

const SIZE = 50;
let filters = {agent: '', reason: '', since: '', until: '', page: 0};

export async function render(container) {
  const input = (name, attrs) => h('input', Object.assign({id: 'dlq-' + name, name, value: filters[name]}, attrs));
  const agent = input('agent', {placeholder: 'agent'});
  const reason = input('reason', {placeholder: 'reason contains'});
  const since = input('since', {type: 'datetime-local', step: 1, 'aria-label': 'since'});
  const until = input('until', {type: 'datetime-local', step: 1, 'aria-label': 'until'});
  const form = h('form', {class: 'inline', id: 'dlq-filter', method: 'post'},
    agent, reason, h('label', {for: 'dlq-since'}, 'from'), since, h('label', {for: 'dlq-until'}, 'to'), until,
    h('button', {type: 'submit', id: 'dlq-apply'}, 'Filter'));
  const list = h('div', {id: 'dlq-list'});
  const detail = h('div', {id: 'dlq-detail'});
  container.append(h('h1', {}, 'Dead letters'), form, h('div', {class: 'split'}, list, detail));

  const state = {items: [], total: 0, open: null};
  let latest = 0; // only the last load asked for is shown (an earlier one may answer later)
  async function load() {
    const mine = ++latest;
    const query = new URLSearchParams({page: filters.page, size: SIZE});
    if (filters.agent) query.set('agent', filters.agent);
    if (filters.reason) query.set('reason', filters.reason);
    try {
      if (filters.since) query.set('since', new Date(filters.since).toISOString());
      if (filters.until) query.set('until', new Date(filters.until).toISOString());
    } catch (e) {
      replace(list, errorBox({message: 'a time is not valid'}));
      return;
    }
    try {
      const body = await get('/api/dlq?' + query);
      if (mine !== latest) return;
      state.items = body.items || [];
      state.total = body.total;
      drawList(list, state, open, load);
    } catch (e) {
      if (mine === latest) replace(list, errorBox(e, 'GET /api/dlq'));
    }
  }
  function open(item) {
    state.open = item;
    drawList(list, state, open, load);
    drawDetail(detail, item, removed => {
      // the replayed or deleted message's dead letters leave the list at once
      const before = state.items.length;
      state.items = state.items.filter(i => i.id !== removed);
      state.total = Math.max(0, state.total - (before - state.items.length));
      state.open = null;
      replace(detail);
      drawList(list, state, open, load);
    });
  }
  form.addEventListener('submit', event => {
    event.preventDefault();
    filters = {agent: agent.value.trim(), reason: reason.value.trim(), since: since.value, until: until.value, page: 0};
    replace(detail);
    load();
  });
  await load();
}

function drawList(list, state, open, load) {
  const pages = Math.max(1, Math.ceil(state.total / SIZE));
  const pager = h('div', {class: 'toolbar'},
    h('span', {id: 'dlq-total'}, fmtNumber(state.total, 0) + ' dead letter(s)'),
    h('button', {type: 'button', disabled: filters.page === 0, onclick: () => { filters.page--; load(); }}, '← newer'),
    h('span', {}, 'page ' + (filters.page + 1) + ' of ' + pages),
    h('button', {type: 'button', disabled: filters.page + 1 >= pages, onclick: () => { filters.page++; load(); }}, 'older →'),
    h('button', {type: 'button', id: 'dlq-refresh', onclick: load}, 'Refresh'));
  replace(list, pager, state.items.length === 0 ? h('p', {class: 'muted', id: 'dlq-empty'}, 'No dead letter matches.')
    : h('div', {class: 'scroll'}, h('table', {id: 'dlq-table'},
      h('thead', {}, h('tr', {}, ['message', 'recipient', 'reason', 'attempts', 'dead-lettered'].map(t => h('th', {}, t)))),
      h('tbody', {}, state.items.map(item => h('tr', {'data-id': item.id,
        class: state.open && state.open.id === item.id && state.open.target === item.target ? 'selected' : null},
        h('td', {}, h('button', {type: 'button', class: 'link open-dlq', onclick: () => open(item)}, item.id)),
        h('td', {class: 'id'}, item.agent || item.target || ''), h('td', {class: 'reason'}, item.reason || ''),
        h('td', {class: 'num'}, item.attempts ?? ''), h('td', {}, fmtTime(item.dead_lettered_at))))))));
}

function drawDetail(box, item, removed) {
  const operate = !scopes.lacks('operate');
  const why = operate ? null : "this API key lacks the scope 'operate'";
  const envelopeText = item.envelope ? JSON.stringify(item.envelope, null, 2) : (item.body || '');
  const editor = h('textarea', {id: 'replay-editor', rows: 12, spellcheck: 'false', 'aria-label': 'envelope to replay'});
  editor.value = envelopeText;
  const errors = h('div', {id: 'replay-errors', 'aria-live': 'polite'});
  const timeline = h('div', {id: 'dlq-timeline'}, h('p', {class: 'muted'}, 'Loading the timeline…'));
  const act = async (title, text, label, call, done) => {
    if (!await confirmDialog(title, text, label)) return;
    replace(errors);
    try {
      const body = await call();
      done(body);
      removed(item.id);
    } catch (e) {
      scopes.note(e, 'operate');
      replace(errors, errorBox(e, title + ' failed'));
    }
  };
  const replayAsItWas = h('button', {type: 'button', id: 'replay-as-is', disabled: !operate, title: why}, 'Replay as it was');
  const replayEdited = h('button', {type: 'button', id: 'replay-edited', disabled: !operate, title: why}, 'Replay the edited envelope');
  const remove = h('button', {type: 'button', id: 'dlq-delete', class: 'danger', disabled: !operate, title: why}, 'Delete');
  replayAsItWas.addEventListener('click', () => act('Replay', 'Route message ' + item.id
    + ' again as it was, to the recipients whose copies were parked?', 'Replay',
    () => post('/api/dlq/' + seg(item.id) + '/replay'), body => notify('Replayed ' + item.id + ' as ' + body.id)));
  replayEdited.addEventListener('click', () => {
    let parsed;
    try {
      parsed = JSON.parse(editor.value);
    } catch (e) {
      replace(errors, errorBox({message: 'the envelope is not JSON', details: [e.message]}));
      return;
    }
    act('Replay edited', 'Validate the edited envelope and route message ' + item.id + ' to whomever it now addresses?',
      'Replay', () => post('/api/dlq/' + seg(item.id) + '/replay', JSON.stringify(parsed)),
      body => notify('Replayed ' + item.id + ' (edited) as ' + body.id));
  });
  remove.addEventListener('click', () => act('Delete', 'Drop the dead letters of message ' + item.id + '? This cannot be undone.',
    'Delete', () => del('/api/dlq/' + seg(item.id)), body => notify('Deleted ' + body.deleted + ' dead letter(s) of ' + item.id)));

  replace(box, h('section', {class: 'card', id: 'dlq-open'},
    h('h2', {}, 'Dead letter ' + item.id),
    h('dl', {class: 'facts'},
      h('dt', {}, 'reason'), h('dd', {id: 'dlq-open-reason'}, item.reason || ''),
      h('dt', {}, 'attempts'), h('dd', {}, item.attempts ?? ''),
      h('dt', {}, 'queue'), h('dd', {}, item.target || ''),
      h('dt', {}, 'ingress'), h('dd', {}, item.ingress || ''),
      h('dt', {}, 'dead-lettered'), h('dd', {}, fmtTime(item.dead_lettered_at)),
      h('dt', {}, 'message'), h('dd', {}, h('a', {href: '#/message/' + encodeURIComponent(item.id)}, 'status and full timeline'))),
    h('div', {class: 'actions'}, replayAsItWas, remove),
    h('h3', {}, 'Envelope'),
    h('label', {for: 'replay-editor', class: 'muted'}, 'Edit it and replay: it is validated first; a still invalid envelope stays here with its errors.'),
    h('div', {class: 'editor'}, errors, editor),
    h('div', {class: 'actions'}, replayEdited),
    h('h3', {}, 'Timeline'), timeline));
  get('/api/messages/' + seg(item.id))
    .then(status => replace(timeline, recipientsTable(status), timelinePicture(status)))
    .catch(e => replace(timeline, errorBox(e, 'Timeline')));
}
