// The console's shell: sign-in, the pages behind #/..., and errors shown as messages, never a blank page.
import {api, apiKey, setApiKey, onUnauthorized} from './api.js';
import {h, clear, errorBox, notify, replace} from './dom.js';
import * as overview from './pages/overview.js';
import * as queues from './pages/queues.js';
import * as deadLetters from './pages/deadletters.js';
import * as message from './pages/message.js';
import * as routing from './pages/routing.js';
import {stats} from './stats.js';
import {scopes} from './scopes.js';

const pages = {overview, queues, dlq: deadLetters, message, routing};
const main = document.getElementById('main');
let current = null; // {stop} of the page shown

function showSignIn(error) {
  stopPage();
  stats.stop();
  document.getElementById('top').hidden = true;
  clear(main);
  main.hidden = true;
  const section = document.getElementById('sign-in');
  section.hidden = false;
  const box = document.getElementById('sign-in-error');
  if (error) {
    replace(box, errorBox(error, 'Not signed in'));
    box.hidden = false;
  } else {
    box.hidden = true;
  }
  document.getElementById('api-key').focus();
}

function stopPage() {
  if (current && current.stop) current.stop();
  current = null;
}

async function showPage() {
  if (!apiKey()) {
    showSignIn();
    return;
  }
  document.getElementById('sign-in').hidden = true;
  document.getElementById('top').hidden = false;
  main.hidden = false;
  stats.start();
  const [, name, ...rest] = (location.hash || '#/overview').split('/');
  const page = pages[name] ? name : 'overview';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  stopPage();
  const container = h('div', {class: 'page', id: 'page-' + page});
  replace(main, container);
  const params = rest.map(p => { try { return decodeURIComponent(p); } catch (e) { return p; } });
  try {
    current = (await pages[page].render(container, params)) || null;
  } catch (e) {
    container.append(errorBox(e, 'This page failed'));
  }
}

document.getElementById('sign-in-form').addEventListener('submit', async event => {
  event.preventDefault(); // never submitted: the key must not travel in a URL or a form post
  const input = document.getElementById('api-key');
  const key = input.value.trim();
  const button = document.getElementById('sign-in-button');
  button.disabled = true;
  try {
    // any call that needs a key tells whether the broker takes it: 401 no; 403 yes (it lacks 'read')
    await api('GET', '/api/stats', undefined, key).catch(e => { if (e.status !== 403) throw e; });
    setApiKey(key);
    scopes.forget();
    input.value = '';
    if (!location.hash || location.hash === '#/') location.hash = '#/overview'; else showPage();
  } catch (e) {
    showSignIn(e.status === 401 ? Object.assign(e, {message: 'the broker refused this API key: ' + e.message}) : e);
  } finally {
    button.disabled = false;
  }
});

document.getElementById('sign-out').addEventListener('click', () => {
  setApiKey(null);
  sessionStorage.clear();
  stats.reset();
  location.hash = '';
  showSignIn();
});

onUnauthorized(error => {
  setApiKey(null);
  showSignIn(Object.assign(error, {message: 'the broker no longer takes this API key: ' + error.message}));
});

window.addEventListener('hashchange', showPage);
window.addEventListener('error', e => {
  if (!String(e.message).startsWith('ResizeObserver loop')) notify('Console error: ' + (e.message || e), 'error'); // benign
});
window.addEventListener('unhandledrejection', e => notify('Console error: ' + ((e.reason && e.reason.message) || e.reason), 'error'));

showPage();
