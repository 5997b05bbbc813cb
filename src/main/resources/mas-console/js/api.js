// The public REST API, with the key the operator signed in with (sessionStorage, sent as X-API-Key; never in a URL).

const KEY = 'mas.console.apiKey';

export class ApiError extends Error {
  constructor(status, message, details, body) {
    super(message);
    this.status = status;
    this.details = Array.isArray(details) ? details : [];
    this.body = body;
  }

  /** The server has no such call (an older broker): its own 404/405, not an API answer about a resource. */
  get unsupported() {
    return (this.status === 404 && this.message === 'not found' && this.details.some(d => String(d).startsWith('no resource at')))
      || (this.status === 405 && this.message === 'method not allowed');
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY);
}

/** Listeners told when the broker answers 401 (the key was replaced or removed): the app signs out. */
const unauthorized = new Set();
export function onUnauthorized(listener) { unauthorized.add(listener); }

/**
 * One call: resolves with the parsed JSON answer (null when empty), or rejects with an ApiError carrying the
 * broker's {"error", "details"}; a network failure is an ApiError with status 0.
 */
export async function api(method, path, body, key) {
  const headers = {'Accept': 'application/json'};
  const k = key === undefined ? apiKey() : key;
  if (k) headers['X-API-Key'] = k;
  const init = {method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'the broker cannot be reached', [String(e && e.message || e)]);
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch (e) { json = null; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, (json && json.error) || response.statusText || 'request failed',
      json && json.details, json);
    if (response.status === 401 && key === undefined) unauthorized.forEach(l => l(error));
    throw error;
  }
  return json;
}

export const get = path => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const del = path => api('DELETE', path);

/** Encodes one path segment (ids may hold ':' and '.'; nothing else needs it, but never trust that). */
export const seg = value => encodeURIComponent(value);
