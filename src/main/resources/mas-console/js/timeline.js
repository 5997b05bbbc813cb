// A message's timeline as a picture (SVG): one lane for the message and one per recipient, its steps in order from
// left to right, each with its event and the time since acceptance; and the same steps as a table.
import {h, s, fmtTime, statusBadge} from './dom.js';

const COLORS = {accepted: '#2563eb', queued: '#0891b2', retrying: '#d97706', acked: '#16a34a', failed: '#dc2626',
  rejected: '#dc2626', dead_lettered: '#7f1d1d', expired: '#6b7280', replayed: '#7c3aed', deleted: '#374151'};

export function timelinePicture(status) {
  const steps = status.timeline || [];
  const lanes = ['message', ...new Set([...(status.recipients || []).map(r => r.agent),
    ...steps.filter(e => e.agent).map(e => e.agent)])];
  const start = steps.length ? Date.parse(steps[0].at) : 0;
  const step = 96, laneHeight = 44, left = 150, top = 30;
  const width = left + Math.max(1, steps.length) * step + 40;
  const height = top + lanes.length * laneHeight + 10;
  const svg = s('svg', {class: 'timeline', id: 'timeline-picture', width, height, viewBox: '0 0 ' + width + ' ' + height,
    role: 'img', 'aria-label': 'Timeline of message ' + status.id + ': ' + steps.length + ' steps'});
  lanes.forEach((lane, i) => {
    const y = top + i * laneHeight + laneHeight / 2;
    svg.append(s('text', {x: 8, y: y + 4, class: 'lane-label'}, truncate(lane, 20)),
      s('line', {x1: left - 10, y1: y, x2: width - 20, y2: y, class: 'lane'}));
  });
  steps.forEach((event, i) => {
    const lane = event.agent ? lanes.indexOf(event.agent) : 0;
    const x = left + i * step + step / 2;
    const y = top + lane * laneHeight + laneHeight / 2;
    const at = Date.parse(event.at);
    svg.append(s('g', {class: 'step', 'data-event': event.event},
      s('title', {}, event.event + (event.agent ? ' · ' + event.agent : '') + (event.attempt ? ' · attempt ' + event.attempt : '')
        + ' · ' + event.at + (event.detail ? ' · ' + event.detail : '')),
      s('circle', {cx: x, cy: y, r: 7, fill: COLORS[event.event] || '#6b7280'}),
      s('text', {x, y: y - 12, class: 'step-label', 'text-anchor': 'middle'}, event.event),
      s('text', {x, y: y + 20, class: 'step-time', 'text-anchor': 'middle'}, isNaN(at) ? '' : '+' + since(at - start))));
  });
  return h('div', {class: 'scroll timeline-box'}, svg);
}

export function timelineTable(status) {
  return h('div', {class: 'scroll'}, h('table', {id: 'timeline-table'},
    h('thead', {}, h('tr', {}, ['at', 'event', 'recipient', 'attempt', 'by', 'detail'].map(t => h('th', {}, t)))),
    h('tbody', {}, (status.timeline || []).map(e => h('tr', {},
      h('td', {}, fmtTime(e.at)), h('td', {}, statusBadge(e.event)), h('td', {class: 'id'}, e.agent || ''),
      h('td', {class: 'num'}, e.attempt || ''), h('td', {}, e.actor || ''), h('td', {}, e.detail || ''))))));
}

export function recipientsTable(status) {
  return h('div', {class: 'scroll'}, h('table', {id: 'recipients-table'},
    h('thead', {}, h('tr', {}, ['recipient', 'status', 'attempts', 'ack', 'updated', 'detail'].map(t => h('th', {}, t)))),
    h('tbody', {}, (status.recipients || []).map(r => h('tr', {'data-agent': r.agent},
      h('td', {class: 'id'}, r.agent), h('td', {}, statusBadge(r.status)), h('td', {class: 'num'}, r.attempts ?? ''),
      h('td', {}, r.requires_ack ? 'required' : ''), h('td', {}, fmtTime(r.updated_at)), h('td', {}, r.detail || ''))))));
}

function since(ms) {
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
  return Math.round(ms / 60000) + ' min';
}

function truncate(text, n) {
  const t = String(text);
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}
