// The dashboard's only way to the server: same-origin fetches that the session
// cookie authenticates; every change carries the session's CSRF token, which lives
// in this module's memory only (never in page-readable storage).
let csrfToken = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

export function setSignedOutHandler(fn) { onSignedOut = fn; }
export function signedIn() { return csrfToken !== null; }

async function call(method, path, body, signal) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body), signal,
  });
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const detail = data && data.detail !== undefined ? data.detail : `HTTP ${res.status}`;
    if (res.status === 401 && !path.startsWith('/ui/api/session')) {
      csrfToken = null;
      onSignedOut(typeof detail === 'string' ? detail : 'Signed out');
    }
    throw new ApiError(res.status, detail);
  }
  return data;
}

export const get = (path, signal) => call('GET', path, undefined, signal);

// One wait of a live view: the server answers when the answer whose `version` the
// page shows has changed ({changed: true}), or after waitMs ({changed: false}).
export function watch(path, version, signal, waitMs = 25000) {
  const sep = path.includes('?') ? '&' : '?';
  return get(`${path}${sep}version=${encodeURIComponent(version || '')}&wait_ms=${waitMs}`, signal);
}
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);

export async function resumeSession() {
  try {
    const s = await call('GET', '/ui/api/session');
    csrfToken = s.csrf_token;
    return true;
  } catch { return false; }
}

export async function signIn(apiKey) {
  const s = await call('POST', '/ui/api/session', { api_key: apiKey });
  csrfToken = s.csrf_token;
}

export async function signOut() {
  try { await call('DELETE', '/ui/api/session'); } finally { csrfToken = null; }
}

export const nsPath = (ns, rest) => `/v0/namespace/${encodeURIComponent(ns)}${rest}`;

export function detailText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message || e);
  if (Array.isArray(e.detail)) return e.detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('; ');
  return typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail);
}

export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
