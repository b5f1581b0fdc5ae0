// Every call to the enforcer: the admin token as a bearer credential, JSON in and out, and the API's
// own error text when it refuses. A 401 hands over to the sign-in with the API's reason.

import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.error = body?.error ?? `HTTP ${status}`;
    this.details = Array.isArray(body?.details) ? body.details : [];
  }
}

let unauthorized = () => {};

/** What to do when the API answers 401 (the token is missing, wrong or expired). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { error: `cannot reach the enforcer: ${e.message}` });
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json ?? { error: `HTTP ${response.status} ${response.statusText}` });
    if (response.status === 401) unauthorized(error);
    throw error;
  }
  return json;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);

/** Query string of the given parameters, without empty ones. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v != null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
