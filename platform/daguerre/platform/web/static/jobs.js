// The jobs list (/jobs): live progress, cancel, retry, clear finished, and the live workers.
// Progress comes from the JSON API once a second; a row whose job is new or changed state is
// taken from the server's own rendering of this page, so the words a row says (a job's result
// in plain words) are written once, in the template, not again here.

import { $, api, notice } from "./api.js";
import { cancelJob, clearFinished, poll, progressText, retryJob, setProgress }
  from "./jobs-common.js";

const main = $("main.jobs-screen");
const tbody = $("#jobs-table tbody");
const { status, kind, offset, limit } = main.dataset;

// Filters live in the URL: changing one submits the (GET) form, so the page can be bookmarked;
// the empty ("any") ones are left out of the URL.
const filter = $("#jobs-filter");
for (const select of filter.querySelectorAll("select")) {
  select.addEventListener("change", () => filter.requestSubmit());
}
filter.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const query = new URLSearchParams([...new FormData(filter)].filter(([, v]) => v));
  window.location.assign(filter.action + (query.size ? `?${query}` : ""));
});

function listQuery() {
  const q = new URLSearchParams({ limit, offset });
  if (status) q.set("status", status);
  if (kind) q.set("kind", kind);
  return q.toString();
}

// The rows of this page as the server renders them now, by job id.
async function serverRows() {
  const resp = await fetch(window.location.href, { credentials: "same-origin" });
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  return new Map([...doc.querySelectorAll("#jobs-table tbody tr")].map((r) => [r.dataset.id, r]));
}

function stateOf(job) {
  return `${job.status}:${job.cancel_requested}`;
}

// Progress and message of a running job change every tick: updated in place (focus stays).
function updateInPlace(row, job) {
  const bar = row.querySelector(".job-progress progress");
  if (bar) setProgress(bar, job);
  const text = row.querySelector(".job-progress span");
  if (text && text.textContent !== progressText(job)) text.textContent = progressText(job);
  const message = row.querySelector(".job-message");
  const words = job.progress.message || job.status;
  if (!job.finished && message.textContent !== words) message.textContent = words;
}

async function renderJobs(items) {
  const known = new Map([...tbody.rows].map((r) => [r.dataset.id, r]));
  const stale = items.filter((j) => {
    const row = known.get(String(j.id));
    return !row || row.dataset.state !== stateOf(j);
  });
  const fresh = stale.length ? await serverRows() : new Map();
  let cursor = tbody.firstElementChild;
  for (const job of items) {
    const id = String(job.id);
    let row = known.get(id);
    const replacement = stale.includes(job) ? fresh.get(id) : null;
    if (replacement) {
      const adopted = document.importNode(replacement, true);
      if (row) {
        const hadFocus = row.contains(document.activeElement);
        row.replaceWith(adopted);
        if (hadFocus) (adopted.querySelector("button") || adopted.querySelector("a")).focus();
        if (cursor === row) cursor = adopted;
      }
      row = adopted;
    }
    if (!row) continue; // not on the server's page yet (it moved on): the next tick has it
    row.dataset.state = stateOf(job);
    updateInPlace(row, job);
    if (row !== cursor) tbody.insertBefore(row, cursor);
    else cursor = cursor.nextElementSibling;
  }
  while (cursor) { // jobs no longer on this page (cleared, or pushed to the next page)
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
  $("#jobs-empty").hidden = tbody.rows.length > 0;
}

function when(iso) {
  return iso ? `${new Date(iso).toISOString().slice(0, 19).replace("T", " ")} UTC` : "";
}

function cell(tr, label, content) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.append(content ?? "");
  tr.append(td);
}

let lastWorkers = "";
function renderWorkers(items) {
  const live = items.filter((w) => w.alive);
  const key = JSON.stringify(live.map((w) => [w.name, w.device, w.queues, w.current_job_id,
                                              w.last_seen_at]));
  if (key === lastWorkers) return;
  lastWorkers = key;
  const body = $("#workers-table tbody");
  body.replaceChildren(...live.map((w) => {
    const tr = document.createElement("tr");
    tr.dataset.name = w.name;
    cell(tr, "Worker", w.name);
    cell(tr, "Device", w.device || "cpu");
    cell(tr, "Queues", w.queues.join(", "));
    let running = "idle";
    if (w.current_job_id) {
      running = document.createElement("a");
      running.href = `/jobs/${w.current_job_id}`;
      running.textContent = `job #${w.current_job_id}`;
    }
    cell(tr, "Running", running);
    const time = document.createElement("time");
    time.dateTime = w.last_seen_at;
    time.textContent = when(w.last_seen_at);
    cell(tr, "Last seen", time);
    return tr;
  }));
  $("#workers-empty").hidden = live.length > 0;
  const gone = items.length - live.length;
  const note = $("#workers-gone");
  note.hidden = gone === 0;
  note.textContent = `${gone} stopped or silent worker${gone === 1 ? "" : "s"} not shown.`;
}

const poller = poll(async () => {
  const [jobs, workers] = await Promise.all([api(`/jobs?${listQuery()}`), api("/workers")]);
  await renderJobs(jobs.items);
  renderWorkers(workers.items);
}, (err) => notice(`Live updates stopped working: ${err.message}`, true));

// Cancel and Retry on any row (rows come and go, so one listener on the table body).
tbody.addEventListener("click", async (ev) => {
  const button = ev.target.closest("button[data-action]");
  if (!button) return;
  const id = button.dataset.id;
  button.disabled = true;
  try {
    if (button.dataset.action === "cancel") {
      const job = await cancelJob(id);
      notice(job.status === "canceled" ? `Job #${id} canceled.`
        : `Job #${id}: cancel requested; it stops at its next step.`);
    } else {
      const job = await retryJob(id);
      notice(`Job #${id} retried as job #${job.id}.`);
    }
  } catch (err) {
    notice(err.message, true);
  } finally {
    button.disabled = false; // disabled only while the call is in flight: no double send
  }
  poller.now();
});

$("#clear-finished")?.addEventListener("click", async () => {
  if (!window.confirm("Delete every finished job from the list? Images they made are kept.")) {
    return;
  }
  try {
    const { deleted, kept } = await clearFinished();
    notice(`Cleared ${deleted} finished job${deleted === 1 ? "" : "s"}.`
      + (kept ? ` Kept ${kept} that a running retry resumes from.` : ""));
  } catch (err) {
    notice(err.message, true);
  }
  poller.now();
});
