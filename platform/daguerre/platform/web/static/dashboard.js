// The Daguerre dashboard: plain modules, no build step. Everything goes through the JSON API on
// the signed-in session (api.js); jobs are polled while any of them is still queued or running.
// Search, restoration and curation meet on the image cards; a finished job shows its outputs.

import { $, api, notice } from "./api.js";

const POLL_MS = 1500;

// The person's role (the page says it): controls for what the role may not do are not shown.
// The server refuses them anyway (403); hiding them only spares a person a button that fails.
const ROLES = ["viewer", "curator", "admin"];
const ROLE = document.body.dataset.role || "viewer";
const may = (needed) => ROLES.indexOf(ROLE) >= ROLES.indexOf(needed);

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  row.append(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// ---- libraries ---------------------------------------------------------------------------

async function loadLibraries() {
  const { items } = await api("/libraries");
  const body = $("#libraries tbody");
  body.replaceChildren();
  const select = $("#library-filter");
  select.replaceChildren(new Option("all libraries", ""));
  for (const lib of items) {
    const tr = document.createElement("tr");
    cell(tr, lib.name);
    cell(tr, lib.images);
    cell(tr, lib.last_indexed_at ? new Date(lib.last_indexed_at).toLocaleString() : "never");
    cell(tr, lib.root);
    const actions = cell(tr, "");
    if (may("curator")) actions.append(button("Scan", () => scan(lib)));
    body.append(tr);
    select.append(new Option(lib.name, lib.id));
  }
}

async function scan(lib) {
  try {
    const job = await api(`/libraries/${lib.id}/scan`, { method: "POST" });
    notice(`Indexing ${lib.name}: job #${job.id} queued`);
    await loadJobs();
  } catch (err) {
    notice(err.message, true);
  }
}

$("#library-form")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target));
  if (!data.name) delete data.name;
  try {
    const lib = await api("/libraries", { method: "POST", body: data });
    notice(`Added library ${lib.name}`);
    ev.target.reset();
    await loadLibraries();
  } catch (err) {
    notice(err.message, true);
  }
});

// ---- search ------------------------------------------------------------------------------

// A card per image: thumbnail linking to the original, a caption, and what a person can do with
// it here: restore it (a job), rate it, approve or reject it (curation, stored in the catalog).
function imageCard(hit) {
  const fig = document.createElement("figure");
  fig.dataset.id = hit.id;
  const link = document.createElement("a");
  link.href = hit.original_url;
  link.target = "_blank";
  link.rel = "noopener";
  const img = document.createElement("img");
  img.src = hit.thumbnail_url;
  img.alt = hit.path || `image ${hit.id}`;
  img.loading = "lazy";
  link.append(img);
  const cap = document.createElement("figcaption");
  const score = typeof hit.score === "number" ? ` · ${hit.score.toFixed(3)}` : "";
  const origin = hit.origin && hit.origin !== "library" ? ` · ${hit.origin}` : "";
  const parents = (hit.lineage || []).map((row) => row.parent_id).filter((id) => id != null);
  const from = parents.length ? ` from #${parents.join(", #")}` : "";
  cap.textContent = `#${hit.id}${score}${origin}${from}`;
  cap.title = hit.path || "";
  fig.append(link, cap);
  if (may("curator")) fig.append(cardActions(fig, hit));
  showCuration(fig, hit);
  return fig;
}

function cardActions(fig, hit) {
  const bar = document.createElement("div");
  bar.className = "card-actions";
  const approve = button("✓", () => curate(fig, { review_state: toggled(fig, "approved") }));
  approve.className = "approve";
  approve.title = "Approve";
  const reject = button("✗", () => curate(fig, { review_state: toggled(fig, "rejected") }));
  reject.className = "reject";
  reject.title = "Reject";
  const rating = document.createElement("select");
  rating.className = "rating";
  rating.title = "Rating";
  rating.append(new Option("☆", ""));
  for (let n = 1; n <= 5; n++) rating.append(new Option("★".repeat(n), String(n)));
  rating.addEventListener("change", () =>
    curate(fig, { rating: rating.value === "" ? null : Number(rating.value) }));
  const restore = button("Restore", () => restoreImages([hit.id]));
  restore.className = "restore";
  bar.append(approve, reject, rating, restore);
  return bar;
}

// Clicking the state an image is in returns it to "unreviewed".
function toggled(fig, state) {
  return fig.dataset.review === state ? "unreviewed" : state;
}

function showCuration(fig, image) {
  if (image.review_state) fig.dataset.review = image.review_state;
  const state = fig.dataset.review || "unreviewed";
  fig.classList.toggle("approved", state === "approved");
  fig.classList.toggle("rejected", state === "rejected");
  fig.querySelector(".approve")?.setAttribute("aria-pressed", String(state === "approved"));
  fig.querySelector(".reject")?.setAttribute("aria-pressed", String(state === "rejected"));
  const rating = fig.querySelector(".rating");
  if (rating && image.rating !== undefined) rating.value = image.rating ?? "";
}

async function curate(fig, change) {
  try {
    const image = await api(`/images/${fig.dataset.id}`, { method: "PATCH", body: change });
    showCuration(fig, image);
  } catch (err) {
    notice(err.message, true);
  }
}

async function restoreImages(ids) {
  try {
    const job = await api("/restore", { method: "POST", body: { image_ids: ids } });
    notice(`Restoring #${ids.join(", #")}: job #${job.id} queued`);
    await loadJobs();
  } catch (err) {
    notice(err.message, true);
  }
}

function showResults(items) {
  const grid = $("#results");
  grid.replaceChildren();
  if (!items.length) {
    grid.textContent = "No results.";
    return;
  }
  grid.append(...items.map(imageCard));
}

async function showImages(ids, what) {
  notice(`Loading ${what}…`);
  try {
    const images = await Promise.all(ids.slice(0, 100).map((id) => api(`/images/${id}`)));
    showResults(images);
    notice(`${what}: ${images.length} image${images.length === 1 ? "" : "s"}`);
  } catch (err) {
    notice(err.message, true);
  }
}

$("#review-queue").addEventListener("click", async () => {
  try {
    const page = await api("/images?origin=generated&review_state=unreviewed&limit=100");
    showResults(page.items);
    notice(`${page.total} generated image${page.total === 1 ? "" : "s"} awaiting review`);
  } catch (err) {
    notice(err.message, true);
  }
});

$("#generate-form")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {};
  for (const [k, v] of new FormData(ev.target)) if (v !== "") body[k] = k === "prompt" ? v : Number(v);
  try {
    const job = await api("/generate", { method: "POST", body });
    notice(`Generating: job #${job.id} queued`);
    await loadJobs();
  } catch (err) {
    notice(err.message, true);
  }
});

$("#search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(ev.target)) if (v) params.set(k, v);
  // The first search of a server process loads the model, which takes a few seconds.
  notice("Searching…");
  try {
    const data = await api(`/search?${params}`);
    showResults(data.items);
    notice("");
  } catch (err) {
    notice(err.message, true);
  }
});

$("#upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  if (!form.get("image")?.size) {
    notice("Choose an image first", true);
    return;
  }
  form.set("limit", $("#search-form [name=limit]").value || "40");
  notice("Searching…");
  try {
    const data = await api("/search/image", { method: "POST", form });
    showResults(data.items);
    notice("");
  } catch (err) {
    notice(err.message, true);
  }
});

// ---- jobs --------------------------------------------------------------------------------

let pollTimer = null;

function progressBar(p) {
  const bar = document.createElement("progress");
  if (p.total) {
    bar.max = p.total;
    bar.value = p.done;
  }
  return bar;
}

async function loadJobs() {
  clearTimeout(pollTimer);
  let items;
  try {
    ({ items } = await api("/jobs?limit=20"));
  } catch (err) {
    if (err.status === 503) {
      $("#jobs tbody").replaceChildren();
      return; // the job system is not running: nothing to poll
    }
    throw err;
  }
  const body = $("#jobs tbody");
  body.replaceChildren();
  let active = false;
  for (const job of items) {
    const p = job.progress || { done: 0, total: null };
    active ||= job.status === "queued" || job.status === "running";
    const tr = document.createElement("tr");
    tr.className = job.status;
    cell(tr, job.id);
    cell(tr, job.kind);
    cell(tr, job.status);
    const td = cell(tr, "");
    td.append(progressBar(p), ` ${p.done}${p.total ? ` / ${p.total}` : ""}`);
    cell(tr, job.error || p.message || "");
    const actions = cell(tr, "");
    if (!may("curator")) {
      // a viewer follows jobs but does not steer them
    } else if (job.status === "queued" || job.status === "running") {
      actions.append(button("Cancel", () => act(() => api(`/jobs/${job.id}/cancel`, { method: "POST" }))));
    } else if (job.status === "failed" || job.status === "canceled") {
      actions.append(button("Retry", () => act(() => api(`/jobs/${job.id}/retry`, { method: "POST" }))));
    }
    const made = job.result?.image_ids || [];
    if (made.length) {
      actions.append(button("Show", () => showImages(made, `job #${job.id}'s output`)));
    }
    body.append(tr);
  }
  // Poll quickly while something moves, slowly otherwise (a job may arrive from the CLI).
  pollTimer = setTimeout(() => refreshJobs(), active ? POLL_MS : POLL_MS * 6);
}

async function refreshJobs() {
  try {
    await loadJobs();
  } catch (err) {
    notice(err.message, true);
  }
}

async function act(request) {
  try {
    await request();
    await loadJobs();
  } catch (err) {
    notice(err.message, true);
  }
}

// ---- start-up ----------------------------------------------------------------------------

async function start() {
  try {
    await loadLibraries();
    await loadJobs();
    notice("");
  } catch (err) {
    notice(err.message, true);
  }
}

start();
