// The fetch wrapper: the session cookie goes along by itself (same origin); every request
// other than GET carries the session's CSRF token, kept in memory only. Any 401 ends the
// session in the page and sends the user back to the sign-in screen.

export const session = { user: null, csrf: null, me: null };

let onExpired = () => {};
/** The router registers what to do when the session is gone. */
export function setExpiredHandler(fn) { onExpired = fn; }

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || (typeof body === 'string' && body) || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || null;
    this.type = err.type || null;
    this.param = err.param || null;
  }
}

/** A plain `fetch` with the CSRF header and 401 handling; returns the Response. */
export async function request(method, path, { body, headers = {}, signal, auth = true } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (method !== 'GET' && session.csrf) h['x-csrf-token'] = session.csrf;
  const resp = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  if (resp.status === 401 && auth) {
    const err = await errorOf(resp);
    expire();
    throw err;
  }
  return resp;
}

export async function errorOf(resp) {
  const text = await resp.text().catch(() => '');
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return new ApiError(resp.status, body);
}

/** A JSON request: the parsed answer, or throws ApiError. */
export async function api(method, path, body, opts = {}) {
  const resp = await request(method, path, { ...opts, body });
  if (!resp.ok) throw await errorOf(resp);
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body ?? {});
export const del = (path, body) => api('DELETE', path, body);

/** Lists come as {data: [...]}. */
export async function list(path) {
  const r = await get(path);
  return (r && r.data) || [];
}

function expire() {
  const had = Boolean(session.user);
  session.user = null;
  session.csrf = null;
  session.me = null;
  onExpired(had);
}

export async function login(name, password) {
  const resp = await request('POST', '/api/auth/login', { body: { name, password }, auth: false });
  if (!resp.ok) throw await errorOf(resp);
  const r = await resp.json();
  session.user = r.user;
  session.csrf = r.csrf_token;
  return r;
}

/** Restores a session after a reload: false when there is none. */
export async function restore() {
  const resp = await request('GET', '/api/auth/session', { auth: false });
  if (!resp.ok) return false;
  const r = await resp.json();
  session.user = r.user;
  session.csrf = r.csrf_token;
  return true;
}

export async function logout() {
  try { await request('POST', '/api/auth/logout', { auth: false }); } catch { /* gone anyway */ }
  session.user = null;
  session.csrf = null;
  session.me = null;
}

/** `GET /api/me`, cached for the session. */
export async function me() {
  if (!session.me) session.me = await get('/api/me');
  return session.me;
}

export const isAdmin = () => (session.user && session.user.role) === 'admin';

export const enc = encodeURIComponent;

/** The allocations the signed-in user may draw from (own, or a group's). */
export async function drawableAllocations() {
  const [all, who] = await Promise.all([list('/api/allocations'), me()]);
  const groups = new Set(who.groups || []);
  return all.filter((a) => (a.owner.user && a.owner.user === who.user)
    || (a.owner.group && groups.has(a.owner.group)));
}
