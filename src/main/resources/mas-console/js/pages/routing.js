// Routing: the dry-run (POST /api/routing/test) as a form: where would this envelope go? Nothing is sent or recorded.
// Above it, the rules in force (GET /api/routing) with the last failed load of the file, and a reload
// (POST /api/routing/reload, scope operate, confirmed).
import {get, post} from '../api.js';
import {h, errorBox, statusBadge, replace, fmtTime, confirmDialog, notify} from '../dom.js';
import {scopes} from '../scopes.js';

const EXAMPLE = {from_agent: 'planner', to_agent: 'worker-1', message_type: 'request', payload: {task: 'summarize'},
  priority: 'high', requires_ack: true};
let draft = JSON.stringify(EXAMPLE, null, 2);

export async function render(container) {
  const editor = h('textarea', {id: 'routing-envelope', rows: 14, spellcheck: 'false', 'aria-label': 'envelope'});
  editor.value = draft;
  editor.addEventListener('input', () => { draft = editor.value; });
  const result = h('div', {id: 'routing-result', 'aria-live': 'polite'});
  const form = h('form', {id: 'routing-form', method: 'post'},
    h('label', {for: 'routing-envelope'}, 'Envelope'), editor,
    h('div', {class: 'actions'}, h('button', {type: 'submit', id: 'routing-run'}, 'Dry run')));
  const rules = h('section', {class: 'card', id: 'routing-rules'}, h('h2', {}, 'Rules in force'), h('p', {class: 'muted'}, 'Loading…'));
  container.append(h('h1', {}, 'Routing dry-run'), rules,
    h('p', {class: 'muted'}, 'Validates the envelope and runs the routing rules on it, without sending or recording anything.'),
    h('div', {class: 'split'}, form, result));
  showRules(rules);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    let body;
    try {
      body = JSON.stringify(JSON.parse(editor.value));
    } catch (e) {
      replace(result, errorBox({message: 'the envelope is not JSON', details: [e.message]}));
      return;
    }
    replace(result, h('p', {class: 'muted'}, 'Running…'));
    try {
      replace(result, ...view(await post('/api/routing/test', body)));
    } catch (e) {
      replace(result, e.unsupported
        ? h('div', {class: 'error', role: 'alert'}, 'This broker does not offer the routing dry-run (POST /api/routing/test answered '
          + e.status + ').')
        : errorBox(e, 'Dry run failed'));
    }
  });
}

function view(answer) {
  const rules = answer.rules ? h('p', {class: 'muted break'}, 'Rules: ' + (answer.rules.route_id || '') + ' '
    + (answer.rules.checksum || '')) : null;
  if (answer.outcome === 'invalid') {
    return [h('section', {class: 'card', id: 'routing-invalid'}, h('h2', {}, 'Invalid envelope'),
      h('p', {}, 'A real send would get ' + answer.status + ': ' + (answer.error || '')),
      h('ul', {class: 'errors'}, (answer.details || []).map(e => h('li', {}, typeof e === 'string' ? e : JSON.stringify(e)))))];
  }
  const rule = by => by ? [by.rule, by.action, by.source].filter(Boolean).join(' / ') : '';
  return [
    h('section', {class: 'card', id: 'routing-outcome'}, h('h2', {}, 'Outcome: ', statusBadge(answer.outcome)),
      h('p', {}, 'A real send would get ' + answer.status + (answer.reason ? ': ' + answer.reason : '')), rules),
    h('section', {class: 'card'}, h('h2', {}, 'Recipients'),
      (answer.recipients || []).length === 0 ? h('p', {class: 'muted'}, 'None.') : h('div', {class: 'scroll'},
        h('table', {id: 'routing-recipients'},
          h('thead', {}, h('tr', {}, h('th', {}, 'recipient'), h('th', {}, 'queue'), h('th', {}, 'added by'))),
          h('tbody', {}, answer.recipients.map(r => h('tr', {}, h('td', {class: 'id'}, r.recipient || ''), h('td', {class: 'id'}, r.queue || ''),
            h('td', {}, rule(r.added_by))))))),
      (answer.removed || []).length === 0 ? null : h('div', {},
        h('h3', {}, 'Removed'), h('ul', {id: 'routing-removed'}, answer.removed.map(r => h('li', {},
          (r.recipient || '') + (r.removed_by ? ' (' + rule(r.removed_by) + ')' : ''))))),
      h('h3', {}, 'Queues'), h('ul', {id: 'routing-queues'}, (answer.queues || []).map(q => h('li', {}, typeof q === 'string' ? q : JSON.stringify(q))))),
    answer.envelope ? h('section', {class: 'card'}, h('h2', {}, 'Normalized envelope'),
      h('pre', {id: 'routing-normalized'}, JSON.stringify(answer.envelope, null, 2))) : null,
  ].filter(Boolean);
}

/** GET /api/routing: the rules in force, whether the file still holds them, and the last load that failed. */
async function showRules(box, outcome) {
  const title = h('h2', {}, 'Rules in force');
  let status;
  try {
    status = await get('/api/routing');
  } catch (e) {
    replace(box, title, outcome || null, errorBox(e, 'GET /api/routing'));
    return;
  }
  const operate = !scopes.lacks('operate');
  const reload = h('button', {type: 'button', id: 'routing-reload', disabled: !operate,
    title: operate ? null : "this API key lacks the scope 'operate'"}, 'Reload the rules file now');
  reload.addEventListener('click', async () => {
    if (!await confirmDialog('Reload the routing rules', 'Load ' + (status.file || 'the rules file')
      + ' again now? If it fails to load, the rules in force stay.', 'Reload')) return;
    try {
      const answer = await post('/api/routing/reload');
      notify(answer && answer.reloaded ? 'Rules reloaded (' + answer.checksum + ')' : 'The file is unchanged: nothing to reload');
      showRules(box);
    } catch (e) {
      scopes.note(e, 'operate');
      if (e.status === 400) { // the file's error: GET /api/routing now holds it, shown below with the rules that stay
        notify('Reload failed: ' + e.message, 'error');
        showRules(box);
      } else {
        showRules(box, errorBox(e, 'Reload failed'));
      }
    }
  });
  const failed = status.last_error;
  replace(box, title,
    h('dl', {class: 'facts'},
      h('dt', {}, 'file'), h('dd', {}, status.file || ''),
      h('dt', {}, 'loaded'), h('dd', {}, fmtTime(status.loaded_at) + (status.loaded_by ? ' by ' + status.loaded_by : '')),
      h('dt', {}, 'checksum'), h('dd', {class: 'break'}, status.checksum || ''),
      h('dt', {}, 'file now'), h('dd', {id: 'routing-up-to-date'}, status.up_to_date ? 'the same as the rules in force'
        : 'changed since (' + (status.file_checksum || 'unreadable') + ')'),
      h('dt', {}, 'reloads'), h('dd', {}, String(status.reloads ?? ''))),
    failed ? h('div', {class: 'error', role: 'alert', id: 'routing-last-error'},
      h('strong', {}, 'The file failed to load at ' + fmtTime(failed.at) + ': ' + (failed.error || '')
        + '. The rules above stay in force.'),
      (failed.details || []).length ? h('ul', {}, failed.details.map(d => h('li', {}, h('pre', {class: 'plain'}, String(d))))) : null)
      : null,
    outcome || null,
    h('div', {class: 'actions'}, reload));
}
