// Message: find a message by id (GET /api/messages/{id}) or by correlation_id / conversation_id
// (GET /api/messages?correlation_id=...), and show its recipients' status and its timeline as a picture.
import {get, seg} from '../api.js';
import {h, errorBox, fmtTime, statusBadge, replace} from '../dom.js';
import {timelinePicture, timelineTable, recipientsTable} from '../timeline.js';

export async function render(container, params) {
  const field = h('select', {id: 'search-field'},
    h('option', {value: 'id'}, 'message id'), h('option', {value: 'correlation_id'}, 'correlation_id'),
    h('option', {value: 'conversation_id'}, 'conversation_id'));
  const value = h('input', {id: 'search-value', required: true, placeholder: 'value', spellcheck: 'false'});
  const result = h('div', {id: 'message-result'});
  const form = h('form', {class: 'inline', id: 'message-search', method: 'post'},
    h('label', {for: 'search-value'}, 'Find by'), field, value, h('button', {type: 'submit', id: 'search-button'}, 'Find'));
  container.append(h('h1', {}, 'Message'), form, result);
  form.addEventListener('submit', event => {
    event.preventDefault();
    const v = value.value.trim();
    if (field.value === 'id') location.hash = '#/message/' + encodeURIComponent(v);
    else search(result, field.value, v);
  });
  if (params[0]) {
    value.value = params[0];
    await showMessage(result, params[0]);
  }
}

async function search(result, field, value) {
  replace(result, h('p', {class: 'muted'}, 'Searching…'));
  try {
    const body = await get('/api/messages?' + field + '=' + encodeURIComponent(value));
    const messages = body.messages || [];
    replace(result, h('h2', {}, messages.length + ' message(s) with ' + field + ' ' + value),
      messages.length === 0 ? null : h('div', {class: 'scroll'}, h('table', {id: 'search-results'},
        h('thead', {}, h('tr', {}, ['id', 'from', 'type', 'accepted', 'recipients'].map(t => h('th', {}, t)))),
        h('tbody', {}, messages.map(m => h('tr', {},
          h('td', {class: 'id'}, h('a', {href: '#/message/' + encodeURIComponent(m.id)}, m.id)), h('td', {class: 'id'}, m.from_agent),
          h('td', {}, m.message_type), h('td', {}, fmtTime(m.accepted_at)),
          h('td', {class: 'id'}, (m.recipients || []).map(r => typeof r === 'string' ? h('span', {class: 'badge'}, r)
            : h('span', {class: 'recipient'}, r.agent, ' ', statusBadge(r.status))))))))));
  } catch (e) {
    replace(result, e.unsupported
      ? h('div', {class: 'error', role: 'alert'}, 'This broker does not offer the search by ' + field
        + ' (GET /api/messages?' + field + '= answered ' + e.status + '). Search by message id instead.')
      : errorBox(e, 'Search failed'));
  }
}

export async function showMessage(result, id) {
  replace(result, h('p', {class: 'muted'}, 'Loading…'));
  try {
    replace(result, ...messageView(await get('/api/messages/' + seg(id))));
  } catch (e) {
    replace(result, errorBox(e, 'Message ' + id));
  }
}

/** The view of one GET /api/messages/{id} answer: summary, recipients, timeline picture and steps. */
export function messageView(status) {
  const m = status.message || {};
  const facts = [['id', status.id], ['from', m.from_agent], ['type', m.message_type], ['priority', m.priority],
    ['requires ack', m.requires_ack ? 'yes' : 'no'], ['correlation_id', m.correlation_id], ['conversation_id', m.conversation_id], ['ingress', m.ingress],
    ['accepted', fmtTime(m.accepted_at)]].filter(([, v]) => v !== undefined && v !== null && v !== '');
  return [
    h('section', {class: 'card', id: 'message-summary'}, h('h2', {}, 'Message ' + status.id),
      h('dl', {class: 'facts'}, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
    h('section', {class: 'card'}, h('h2', {}, 'Recipients'), recipientsTable(status)),
    h('section', {class: 'card'}, h('h2', {}, 'Timeline'), timelinePicture(status), timelineTable(status)),
  ];
}
