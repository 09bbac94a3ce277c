// The dashboard's one API client: every call goes to the JSON API on the session cookie, with
// the page's CSRF token on every change (the server refuses a change without it). A 401 means
// the session ended (signed out elsewhere, password changed): back to the sign-in page.

const API = document.body.dataset.api;
const CSRF = document.querySelector("meta[name=csrf-token]")?.content ?? "";
const SAFE = new Set(["GET", "HEAD"]);

export const $ = (sel) => document.querySelector(sel);

export function notice(text, isError = false) {
  const el = $("#notice");
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle("error", isError);
}

export async function api(path, { method = "GET", body, form } = {}) {
  const headers = {};
  if (!SAFE.has(method)) headers["X-CSRFToken"] = CSRF;
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const resp = await fetch(API + path, { method, headers, body: payload, credentials: "same-origin" });
  if (resp.status === 401) {
    window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
  }
  const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
  if (!resp.ok) {
    const err = new Error(data.error || `HTTP ${resp.status}`);
    err.status = resp.status;
    // The field the server named (a BadInput's), so a form can show the error beside it.
    err.field = data.field;
    err.value = data.value;
    throw err;
  }
  return data;
}
