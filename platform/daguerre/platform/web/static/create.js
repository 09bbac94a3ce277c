// The Create screen's form: read the fields the server rendered from the job kind's parameter
// table, send only what a person changed (a field left at its shown default lets the job take
// its own), upload a painted mask first (POST /masks), queue the job (POST /<kind>) and open the
// job's page, where its progress is live. An error the API names by field is shown under that
// field; any other in the notice line.

import { $, api, notice } from "./api.js";
import { MaskPainter } from "./mask-paint.js";

const form = $("#create-form");
const kind = form.dataset.kind;
const result = $("#create-result");
const submitButton = $("#create-submit");
const imageField = $("#f-image_id") ?? $("#f-image_ids");
const maskRoot = form.querySelector(".mask-painter");
const painter = maskRoot ? new MaskPainter(maskRoot) : null;

// -- reading the form -------------------------------------------------------------------------
function defaultOf(box) {
  try {
    return JSON.parse(box.dataset.default ?? "null");
  } catch {
    return null;
  }
}

function imageIds(text) {
  return text.split(/[\s,]+/).filter(Boolean).map((t) => Number(t.replace(/^#/, "")));
}

// The value of one field as the API takes it, or undefined when it is left alone.
function valueOf(box) {
  const control = box.querySelector("[name]:not([type=radio])");
  const widget = box.dataset.widget;
  if (!control || widget === "mask") return undefined;
  const required = box.dataset.required === "true";
  const fallback = defaultOf(box);
  let value;
  if (widget === "checkbox") {
    value = control.checked;
    return value === Boolean(fallback) && !required ? undefined : value;
  }
  const raw = control.value.trim();
  if (raw === "") return undefined;
  if (widget === "number" || widget === "image") value = Number(raw);
  else if (widget === "images") value = imageIds(raw);
  else if (widget === "boxes") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw Object.assign(new Error("must be JSON: [[x0, y0, x1, y1], ...]"), { field: box.dataset.field });
    }
  } else if (widget === "select" && /^\d+$/.test(raw) && typeof fallback === "number") value = Number(raw);
  else if (widget === "board") value = Number(raw);
  else value = raw;
  if (!required && fallback !== null && String(value) === String(fallback)) return undefined;
  return value;
}

// The body of POST /<kind>: "recipe.x" fields go into body.recipe.
function body() {
  const out = {};
  for (const box of form.querySelectorAll("[data-field]")) {
    const value = valueOf(box);
    if (value === undefined) continue;
    const [head, ...rest] = box.dataset.field.split(".");
    if (rest.length) (out[head] ??= {})[rest.join(".")] = value;
    else out[head] = value;
  }
  return out;
}

// -- errors next to their field ---------------------------------------------------------------
function clearErrors() {
  for (const p of form.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
}

// The field box an API error names: "recipe.denoise_strength", "mask_boxes[0]", "image_ids".
function boxFor(field) {
  if (!field) return null;
  const name = String(field).replace(/\[\d+\]$/, "");
  return [...form.querySelectorAll("[data-field]")].find((b) => b.dataset.field === name) ?? null;
}

function showError(err) {
  const box = boxFor(err.field);
  if (!box) {
    notice(err.message, true);
    return;
  }
  const details = box.closest("details");
  if (details) details.open = true;
  const slot = box.querySelector(".field-error");
  slot.textContent = err.message;
  slot.hidden = false;
  const control = box.querySelector("[name]:not([type=radio])") ?? box.querySelector("canvas");
  control?.setAttribute("aria-invalid", "true");
  control?.focus();
  notice(`Not queued: ${err.message}`, true);
}

// -- the input image: preview, picker, the mask's picture -------------------------------------
const preview = form.querySelector(".input-preview");
const picker = $("#image-picker");

async function showInput() {
  if (!imageField) return;
  const [id] = imageIds(imageField.value);
  if (!id) {
    preview.hidden = true;
    painter?.unset("Choose an input image to paint its mask.");
    return;
  }
  try {
    const image = await api(`/images/${id}`);
    preview.querySelector("img").src = image.thumbnail_url;
    preview.querySelector("img").alt = `Input image #${image.id}`;
    preview.querySelector("figcaption").textContent =
      `#${image.id} · ${image.width} × ${image.height}${image.path ? ` · ${image.path}` : ""}`;
    preview.hidden = false;
    painter?.setImage(image.thumbnail_url, image.width, image.height);
  } catch (err) {
    preview.hidden = true;
    painter?.unset(`No picture to paint on: ${err.message}`);
    showError({ field: imageField.name, message: err.status === 404 ? `no image with id ${id}` : err.message });
  }
}

async function openPicker(button) {
  const open = picker.hidden;
  picker.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
  if (!open || picker.dataset.loaded) return;
  const list = picker.querySelector("ul");
  try {
    const { total } = await api("/images?limit=1");
    const page = await api(`/images?limit=24&offset=${Math.max(0, total - 24)}`);
    list.replaceChildren(...page.items.reverse().map((image) => {
      const item = document.createElement("li");
      const choose = document.createElement("button");
      choose.type = "button";
      choose.dataset.id = image.id;
      choose.setAttribute("aria-label", `Use image #${image.id}`);
      const img = document.createElement("img");
      img.src = image.thumbnail_url;
      img.alt = "";
      img.loading = "lazy";
      choose.append(img, `#${image.id}`);
      item.append(choose);
      return item;
    }));
    picker.dataset.loaded = "true";
  } catch (err) {
    notice(`Recent images: ${err.message}`, true);
  }
}

if (imageField) {
  imageField.addEventListener("change", () => {
    clearErrors();
    showInput();
    const [id] = imageIds(imageField.value);
    // The URL keeps the chosen input, so a reload or a shared link opens the same form.
    const url = new URL(window.location.href);
    url.searchParams.set("kind", kind);
    if (id) url.searchParams.set("image", id);
    else url.searchParams.delete("image");
    window.history.replaceState(null, "", url);
    for (const a of document.querySelectorAll(".create-kinds a")) {
      const link = new URL(a.href);
      if (id) link.searchParams.set("image", id);
      else link.searchParams.delete("image");
      a.href = link;
    }
  });
  form.querySelector(".pick-image")?.addEventListener("click", (e) => openPicker(e.currentTarget));
  picker?.addEventListener("click", (event) => {
    const choose = event.target.closest("button[data-id]");
    if (!choose) return;
    imageField.value = choose.dataset.id;
    imageField.dispatchEvent(new Event("change"));
    picker.hidden = true;
    form.querySelector(".pick-image").setAttribute("aria-expanded", "false");
    imageField.focus();
  });
  showInput();
}

// -- submit -----------------------------------------------------------------------------------
async function uploadMask() {
  const data = new FormData();
  data.append("mask", await painter.toBlob(), "mask.png");
  return (await api("/masks", { method: "POST", form: data })).mask;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  notice("");
  let params;
  try {
    params = body();
  } catch (err) {
    showError(err);
    return;
  }
  submitButton.disabled = true;
  result.textContent = "Queueing…";
  try {
    if (painter && !painter.isEmpty()) {
      if (params.mask_boxes) {
        throw Object.assign(new Error("give either a painted mask or rectangles, not both"), { field: "mask_boxes" });
      }
      params.mask = await uploadMask();
    } else if (kind === "inpaint" && !params.mask_boxes) {
      throw Object.assign(new Error("paint the part to repaint (or give mask rectangles)"), { field: "mask" });
    }
    const job = await api(`/${kind}`, { method: "POST", body: params });
    const link = document.createElement("a");
    link.href = `/jobs/${job.id}`;
    link.textContent = `job #${job.id}`;
    result.replaceChildren(`Queued ${kind} `, link, " — opening it…");
    window.location.assign(link.href);
  } catch (err) {
    result.textContent = "";
    showError(err);
    submitButton.disabled = false;
  }
});
