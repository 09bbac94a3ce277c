// One job (/jobs/<id>): its progress live while it runs (the JSON API, once a second), then the
// page again once it finishes, so the result is said in the server's words; cancel and retry.

import { $, api, notice } from "./api.js";
import { FINISHED, cancelJob, poll, progressText, retryJob, setProgress, statusText }
  from "./jobs-common.js";

const main = $("main.job-detail");
const id = main.dataset.jobId;

function show(job) {
  const badge = $("#job-status");
  badge.textContent = statusText(job);
  badge.className = `job-badge ${job.status}`;
  $("#job-summary").textContent = job.error || job.progress.message || job.status;
  setProgress($("#job-progress progress"), job);
  $("#job-progress-text").textContent = progressText(job);
}

if (main.dataset.finished !== "true") {
  poll(async () => {
    const job = await api(`/jobs/${id}`);
    if (FINISHED.has(job.status)) {
      window.location.reload(); // the finished page says the result, outputs and timing
      return false;
    }
    show(job);
    return true;
  }, (err) => notice(`Live updates stopped working: ${err.message}`, true));
}

$("#job-cancel")?.addEventListener("click", async (ev) => {
  ev.target.disabled = true;
  try {
    const job = await cancelJob(id);
    notice(job.status === "canceled" ? `Job #${id} canceled.`
      : `Cancel requested: job #${id} stops at its next step.`);
    show(job);
  } catch (err) {
    notice(err.message, true);
    ev.target.disabled = false;
  }
});

$("#job-retry")?.addEventListener("click", async (ev) => {
  ev.target.disabled = true;
  try {
    const job = await retryJob(id);
    window.location.assign(`/jobs/${job.id}`);
  } catch (err) {
    notice(err.message, true);
    ev.target.disabled = false;
  }
});
