// Building the page without innerHTML: every value from the API goes in as text (textContent, text nodes,
// attributes set one by one), so nothing it holds is ever parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else if (name === 'class') node.setAttribute('class', value);
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** h('td', {class: 'num'}, 'text', otherNode): an element with attributes and children (strings become text). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** node.replaceChildren, leaving out null, undefined and false (which replaceChildren would show as text). */
export function replace(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false));
  return node;
}

/** An error box: the API's error and each of its details, as text. */
export function errorBox(error, prefix) {
  const details = (error && error.details) || [];
  return h('div', {class: 'error', role: 'alert'},
    h('strong', {}, (prefix ? prefix + ': ' : '') + describe(error)),
    details.length ? h('ul', {}, details.map(d => h('li', {}, typeof d === 'string' ? d : JSON.stringify(d)))) : null);
}

export function describe(error) {
  if (!error) return 'unknown error';
  if (error.status) return error.message + ' (HTTP ' + error.status + ')';
  return error.message || String(error);
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function fmtNumber(n, digits) {
  if (n === undefined || n === null || n === '') return '';
  const v = Number(n);
  if (!isFinite(v)) return String(n);
  return v.toLocaleString(undefined, {maximumFractionDigits: digits === undefined ? 2 : digits});
}

/** A modal confirmation (the standard <dialog>): resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel, extra) {
  return new Promise(resolve => {
    const ok = h('button', {type: 'button', class: 'danger', id: 'confirm-ok'}, confirmLabel || 'Confirm');
    const cancel = h('button', {type: 'button', id: 'confirm-cancel'}, 'Cancel');
    const dialog = h('dialog', {class: 'confirm', id: 'confirm-dialog'},
      h('h2', {}, title), h('p', {}, text), extra || null, h('div', {class: 'actions'}, cancel, ok));
    const done = value => { dialog.close(); dialog.remove(); resolve(value); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', e => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A short message at the top of the page (success or failure), replaced by the next one. */
export function notify(text, kind) {
  const notice = document.getElementById('notice');
  notice.className = 'notice ' + (kind || 'ok');
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { notice.hidden = true; }, kind === 'error' ? 15000 : 6000);
}

export function statusBadge(status) {
  return h('span', {class: 'badge status-' + String(status).replace(/[^a-z_]/gi, '')}, status);
}
