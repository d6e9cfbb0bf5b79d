// Thin client for /api/v1 used by every page: session cookie + CSRF header, JSON errors surfaced as messages.
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
export const setCsrf = (token) => { document.querySelector('meta[name="csrf-token"]').content = token; };

// What a page does when its session has ended. Pages holding unsaved work replace this (annotate.js shows a
// re-login dialog and keeps the edits); the default goes to the login page.
export const hooks = { unauthorized: () => { window.location.href = '/login?expired=1'; } };

export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

export async function api(method, path, body) {
  const opts = { method, headers: { 'X-CSRFToken': csrf(), Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(`/api/v1${path}`, opts);
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && path !== '/session') hooks.unauthorized();
  if (!resp.ok) throw new ApiError(resp.status, data.error ? data.error.message : `HTTP ${resp.status}`, data);
  return data;
}

// Multipart upload with progress (fetch has no upload progress, XHR does).
export function upload(path, files, onProgress, fields = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append('files', f, f.name);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1${path}`);
    xhr.setRequestHeader('X-CSRFToken', csrf());
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round((100 * e.loaded) / e.total)); };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (_) { /* non-JSON error page */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data.error ? data.error.message : `HTTP ${xhr.status}`, data));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network error during upload'));
    xhr.send(form);
  });
}

export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = message;  // textContent: never HTML
  el.className = `show ${kind}`;
  clearTimeout(el._timer);
  el._timer = setTimeout(() => { el.className = ''; }, 4000);
}

// Build elements without innerHTML so stored text can never become markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

// What a media module needs: the item's media URL and its derived assets by name (?variant= URLs).
export function mediaOf(item) {
  return { mediaUrl: item.media_url || null,
    assets: Object.fromEntries((item.assets || []).map((a) => [a.name, { url: a.url, mediaType: a.media_type, meta: a.meta }])) };
}
