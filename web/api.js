// The one door to the server: every request and the event stream go through here, carrying the
// session's token when there is one. A server run with --auth refuses a missing or bad token
// (401): the token is forgotten and the app is told, so it can ask for another.

const BASE = '/api/v1';

/**
 * The token lives in this tab's sessionStorage: it survives a reload, not the tab, and never
 * reaches localStorage or the address bar.
 */
const TOKEN_KEY = 'forest.token';
/** Whether the token may manage tokens (found out once, at sign-in). */
const ADMIN_KEY = 'forest.admin';

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

let onSignedOut = () => {};

/**
 * `fn(reason)` runs when the session ends: the server refused its token (`reason` is the
 * server's message, or '' when no token had been given), or the user signed out ('').
 */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

function forget(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ADMIN_KEY);
  onSignedOut(reason);
}

/**
 * `token`: the one to try (signing in), whose refusal is only thrown; by default the
 * session's, whose refusal also ends the session.
 */
async function request(method, path, { params, body, token } = {}) {
  const bearer = token ?? session.token();
  const init = { method, headers: { Accept: 'application/json' } };
  if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
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
    const e = new ApiError(
      res.status,
      (err && err.code) || 'http',
      (err && err.message) || `${method} ${path}: ${res.status} ${res.statusText}`,
    );
    // The session's token refused ends the session; one already replaced (a request sent before
    // signing in again) is old news.
    const sessions = token === undefined && bearer === session.token();
    if (res.status === 401 && sessions) forget(bearer ? e.message : '');
    throw e;
  }
  return data;
}

export const api = {
  get: (path, params) => request('GET', path, { params }),
  post: (path, body) => request('POST', path, { body }),
  put: (path, body) => request('PUT', path, { body }),
  del: (path) => request('DELETE', path),
};

export const session = {
  /** The token signed in with; null without one (and always on a server without --auth). */
  token: () => sessionStorage.getItem(TOKEN_KEY),
  isAdmin: () => sessionStorage.getItem(ADMIN_KEY) === 'yes',

  /**
   * Keeps `token` for this tab if the server takes it for reading (a worker's is refused);
   * otherwise throws the server's reason. Whether it may manage tokens is asked once, here.
   */
  async signIn(token) {
    await request('GET', '/cluster', { token });
    const admin = await request('GET', '/tokens', { token }).then(() => true, () => false);
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ADMIN_KEY, admin ? 'yes' : 'no');
  },

  signOut: () => forget(''),
};

/** A path segment from a value (ids and group names may hold any character). */
export const seg = encodeURIComponent;

/** How long to wait before opening the stream again once the server has closed it. */
const RECONNECT_MS = 5000;

/** The open event stream and its pending reopening, if any. */
let stream = null;

/**
 * Server-sent events: `handlers` maps an event name (`run`, `job`, `worker`, `snapshot`,
 * `leader`, and `lagged` when the server dropped some for this browser) to a function of its
 * parsed data; `onState(true|false)` follows the connection. The token goes in the query
 * (EventSource cannot set headers). One stream at a time: this closes any other.
 * EventSource retries a dropped connection by itself, but gives up on an HTTP error (a node
 * restarting behind a proxy answers 502, a refused token 401): then a new one is opened after
 * a pause.
 */
export function subscribe(handlers, onState) {
  unsubscribe();
  const source = new EventSource(`${BASE}/events${query({ access_token: session.token() })}`);
  const current = { source, retry: null };
  stream = current;
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
      current.retry = setTimeout(() => subscribe(handlers, onState), RECONNECT_MS);
    }
  };
}

export function unsubscribe() {
  if (!stream) return;
  stream.source.close();
  clearTimeout(stream.retry);
  stream = null;
}
