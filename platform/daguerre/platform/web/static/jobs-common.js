// What the two jobs pages share: how a job's state reads (status, progress) and the three
// changes a curator can make (cancel, retry, clear), each one call to the JSON API (api.js).

import { api } from "./api.js";

export const POLL_MS = 1000; // live progress: at least once a second, as the screen promises

export const FINISHED = new Set(["succeeded", "failed", "canceled"]);

export function statusText(job) {
  return job.status + (job.cancel_requested && !job.finished ? " (canceling)" : "");
}

export function progressText(job) {
  const { done, total } = job.progress;
  return total ? `${done} / ${total}` : "";
}

// A <progress> for a job: determinate once the job knows its total, indeterminate before.
export function setProgress(bar, job) {
  const { done, total } = job.progress;
  bar.max = total || 1;
  if (total) bar.value = Math.min(done, total);
  else bar.removeAttribute("value");
}

export const cancelJob = (id) => api(`/jobs/${id}/cancel`, { method: "POST" });
export const retryJob = (id) => api(`/jobs/${id}/retry`, { method: "POST" });
export const clearFinished = () => api("/jobs/clear", { method: "POST" });

// Poll `load` every POLL_MS while the tab is visible, one call at a time; `load` returning false
// stops it. `now()` polls at once (after a change). A failed poll is said once, not every tick.
export function poll(load, onError) {
  let timer = null;
  let busy = false;
  let again = false;
  let stopped = false;
  let failing = false;
  async function tick() {
    if (stopped) return;
    if (busy) { again = true; return; }
    clearTimeout(timer);
    timer = null;
    busy = true;
    try {
      if ((await load()) === false) stopped = true;
      failing = false;
    } catch (err) {
      if (!failing) onError(err);
      failing = true;
    }
    busy = false;
    if (stopped) return;
    if (again) { again = false; tick(); return; }
    if (!document.hidden) timer = setTimeout(tick, POLL_MS);
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !busy && timer === null) tick();
  });
  tick();
  return { now: tick };
}
