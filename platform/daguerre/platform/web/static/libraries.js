// The libraries screen (/libraries, admin): add, rename, remove and scan libraries through the
// JSON API, each form showing the API's own error message next to it. The rows come rendered
// from the server; a row is refreshed from the API after a change or when its scan ends.

import { api } from "./api.js";
import { failuresOpen, loadFailures, toggleFailures } from "./libraries-failures.js";
import { followJob, showProgress } from "./libraries-scan.js";

const table = document.getElementById("libraries-table");
const template = document.getElementById("library-template");
const pageStatus = document.getElementById("libraries-status");
const emptyNote = document.getElementById("no-libraries");
const dialog = document.getElementById("remove-dialog");

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// The server's format (pages/libraries.py: stamp): "2026-11-29 17:58 UTC", or "never".
export const stamp = (iso) => (iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "never");

function showError(el, err) {
  el.textContent = err ? err.message : "";
  el.hidden = !err;
}

function setFailures(body, count) {
  const button = body.querySelector(".failures-toggle");
  button.textContent = plural(count, "failure");
  button.hidden = count === 0;
  body.querySelector(".no-failures").hidden = count !== 0;
  if (count === 0) {
    button.setAttribute("aria-expanded", "false");
    body.querySelector(".failures-row").hidden = true;
  }
}

// Write a library (the API's shape) into its <tbody>.
function fill(body, lib) {
  Object.assign(body.dataset, { id: lib.id, name: lib.name, root: lib.root, images: lib.images });
  body.querySelector(".name").textContent = lib.name;
  body.querySelector(".lib-root code").textContent = lib.root;
  body.querySelector(".lib-images").textContent = lib.images;
  body.querySelector(".lib-indexed").textContent = stamp(lib.last_indexed_at);
  const row = body.querySelector(".failures-row");
  row.id = `failures-${lib.id}`;
  body.querySelector(".failures-toggle").setAttribute("aria-controls", row.id);
}

async function refresh(body) {
  const id = body.dataset.id;
  fill(body, await api(`/libraries/${id}`));
  if (failuresOpen(body)) {
    const total = await loadFailures(body);
    if (total !== null) setFailures(body, total);
  } else {
    setFailures(body, (await api(`/libraries/${id}/failures?limit=1`)).total);
  }
}

function updateEmpty() {
  emptyNote.hidden = table.querySelector("tbody.library") !== null;
}

// ------------------------------------------------------------------------------ add

const addForm = document.getElementById("add-library");
const addError = document.getElementById("add-error");

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(addForm);
  const body = { path: data.get("path").trim() };
  const name = data.get("name").trim();
  if (name) body.name = name;
  const button = addForm.querySelector("button[type=submit]");
  button.disabled = true;
  showError(addError, null);
  try {
    const lib = await api("/libraries", { method: "POST", body });
    const tbody = template.content.firstElementChild.cloneNode(true);
    fill(tbody, lib);
    setFailures(tbody, 0);
    table.append(tbody);
    updateEmpty();
    addForm.reset();
    pageStatus.textContent = `Added ${lib.name}. Scan it to index its photos.`;
  } catch (err) {
    showError(addError, err);
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------------------ rename

function openRename(body, open) {
  const form = body.querySelector(".rename-form");
  form.hidden = !open;
  body.querySelector(".name").hidden = open;
  showError(form.querySelector(".form-error"), null);
  if (open) {
    form.elements.name.value = body.dataset.name;
    form.elements.name.focus();
  } else {
    body.querySelector("button.rename").focus();
  }
}

table.addEventListener("submit", async (event) => {
  const form = event.target.closest(".rename-form");
  if (!form) return;
  event.preventDefault();
  const body = form.closest("tbody");
  try {
    const lib = await api(`/libraries/${body.dataset.id}`,
                          { method: "PATCH", body: { name: form.elements.name.value.trim() } });
    fill(body, lib);
    openRename(body, false);
    pageStatus.textContent = `Renamed to ${lib.name}.`;
  } catch (err) {
    showError(form.querySelector(".form-error"), err);
  }
});

// ------------------------------------------------------------------------------ scan

async function scan(body) {
  const button = body.querySelector("button.scan");
  const box = body.querySelector(".scan-status");
  const error = body.querySelector(".scan-error");
  button.disabled = true;
  showError(error, null);
  try {
    const job = await api(`/libraries/${body.dataset.id}/scan`, { method: "POST" });
    showProgress(box, job);
    const end = await followJob(job.id, (update) => showProgress(box, update));
    if (end.status !== "succeeded") showError(error, new Error(end.error || `scan ${end.status}`));
    await refresh(body);
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------ remove

let removing = null; // the <tbody> the dialog asks about

function askRemove(body) {
  removing = body;
  dialog.querySelector(".remove-name").textContent = body.dataset.name;
  dialog.querySelector(".remove-images").textContent =
    plural(Number(body.dataset.images), "active image");
  dialog.querySelector(".remove-root").textContent = body.dataset.root;
  showError(dialog.querySelector(".form-error"), null);
  dialog.showModal();
  dialog.querySelector(".remove-cancel").focus();
}

dialog.querySelector(".remove-cancel").addEventListener("click", () => dialog.close());

dialog.querySelector("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = removing;
  const confirm = dialog.querySelector(".remove-confirm");
  confirm.disabled = true;
  try {
    const gone = await api(`/libraries/${body.dataset.id}`, { method: "DELETE" });
    dialog.close();
    body.remove();
    updateEmpty();
    pageStatus.textContent = `Removed ${gone.name}: ${plural(gone.images, "image")} forgotten; `
      + `the files under ${gone.root} are untouched.`;
  } catch (err) {
    showError(dialog.querySelector(".form-error"), err);
  } finally {
    confirm.disabled = false;
  }
});

// ------------------------------------------------------------------------------ row buttons

table.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  const body = button?.closest("tbody.library");
  if (!body) return;
  if (button.classList.contains("scan")) scan(body);
  else if (button.classList.contains("rename")) openRename(body, true);
  else if (button.classList.contains("rename-cancel")) openRename(body, false);
  else if (button.classList.contains("remove")) askRemove(body);
  else if (button.classList.contains("failures-toggle")) toggleFailures(body);
});

// Rows rendered by the server get their ids wired like added ones.
for (const body of table.querySelectorAll("tbody.library")) {
  const row = body.querySelector(".failures-row");
  row.id = `failures-${body.dataset.id}`;
  body.querySelector(".failures-toggle").setAttribute("aria-controls", row.id);
}
