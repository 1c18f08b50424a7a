// The one door to the server: every request and the event stream go through here, so adding a
// bearer token (and sending a 401 to a sign-in page) later is a change to this file alone.

const BASE = '/api/v1';

/** A failed request: the server's `{"error":{"code","message"}}`, or what went wrong on the way. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `?a=1&b=2` from the entries of `params` that have a value. */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function request(method, path, { params, body } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path + query(params), init);
  } catch (e) {
    throw new ApiError(0, 'network', `${method} ${path}: ${e.message}`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page, say): the status line says enough below.
  }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(
      res.status,
      (err && err.code) || 'http',
      (err && err.message) || `${method} ${path}: ${res.status} ${res.statusText}`,
    );
  }
  return data;
}

export const api = {
  get: (path, params) => request('GET', path, { params }),
  post: (path, body) => request('POST', path, { body }),
  put: (path, body) => request('PUT', path, { body }),
  del: (path) => request('DELETE', path),
};

/** A path segment from a value (ids and group names may hold any character). */
export const seg = encodeURIComponent;

/** How long to wait before opening the stream again once the server has closed it. */
const RECONNECT_MS = 5000;

/**
 * Server-sent events: `handlers` maps an event name (`run`, `job`, `worker`, `snapshot`,
 * `leader`, and `lagged` when the server dropped some for this browser) to a function of its
 * parsed data; `onState(true|false)` follows the connection.
 * EventSource retries a dropped connection by itself, but gives up on an HTTP error (a node
 * restarting behind a proxy answers 502): then a new one is opened after a pause.
 */
export function subscribe(handlers, onState) {
  const source = new EventSource(`${BASE}/events`);
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      handle(data);
    });
  }
  source.onopen = () => onState(true);
  source.onerror = () => {
    onState(false);
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(() => subscribe(handlers, onState), RECONNECT_MS);
    }
  };
}
