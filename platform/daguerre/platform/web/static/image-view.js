// The image screen (/images/<id>): zoom and pan, walking the list it was opened from (← / →),
// curating with the buttons or Lightroom's keys (0–5 rating, P approve, X reject, U unreviewed,
// T tag, B board; through the JSON API, which refuses anyone but a curator all the same), the
// tags with their source, the Restore action, and the similar images (asked for after the page
// has shown: the vector search is the one slow part).

import { $, api, notice } from "./api.js";
import { askBoard, askTag } from "./dialogs.js";
import { bindCardKeys } from "./keys.js";
import { neighbours, rememberList } from "./list-memory.js";
import { Zoom, bindZoomButtons } from "./zoom.js";

const main = $("#image-main");
const id = Number(main.dataset.imageId);
const canCurate = main.dataset.canCurate === "true";
const keysDialog = $("#image-keys");
const SIMILAR = 12;

// -- zoom ----------------------------------------------------------------------------------
const zoom = new Zoom([$("#image-viewport")], { level: $(".zoom-level") });
bindZoomButtons($(".zoom-tools"), zoom);

// -- the list it was opened from --------------------------------------------------------------
const place = neighbours(id);
const back = $("#image-back");
function stepLink(link, target, label) {
  if (target === null) return;
  link.href = `/images/${target}`;
  link.removeAttribute("aria-disabled");
  link.removeAttribute("role");
  link.setAttribute("aria-label", `${label}: image #${target}`);
}
if (place) {
  back.href = place.list.href;
  back.textContent = `← Back to ${place.list.label}`;
  stepLink($("#image-prev"), place.prev, "Previous");
  stepLink($("#image-next"), place.next, "Next");
  $("#image-position").textContent = `${place.index + 1} of ${place.list.ids.length} in ${place.list.label}`;
} else {
  back.textContent = "← Back";
}
const go = (link) => {
  if (link.hasAttribute("href")) window.location.assign(link.href);
  else notice("No list to walk through: open the image from a grid to step through it.");
};

// -- curating ------------------------------------------------------------------------------
function showState(image) {
  $("#image-rating").textContent = image.rating ?? "none";
  const review = $("#image-review");
  review.textContent = image.review_state;
  review.className = `review-${image.review_state}`;
  for (const b of main.querySelectorAll("button[data-rating]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.rating) === image.rating));
  }
  for (const b of main.querySelectorAll("button[data-review]")) {
    b.setAttribute("aria-pressed", String(b.dataset.review === image.review_state));
  }
}

async function curate(changes, said) {
  if (!canCurate) return;
  try {
    showState(await api(`/images/${id}`, { method: "PATCH", body: changes }));
    notice(`#${id} ${said}.`);
  } catch (err) {
    notice(`#${id}: ${err.message}`, true);
  }
}
const review = (state, said) => curate({ review_state: state }, said);
const rate = (n) => curate({ rating: n }, n ? `rated ${n}` : "rating cleared");

// -- tags ----------------------------------------------------------------------------------
// One row per name, a person's and the model's together (as pages/image.py groups them).
function tagRows(entries) {
  const rows = new Map();
  for (const t of entries) {
    const row = rows.get(t.name) ?? { name: t.name, person: false, score: null };
    if (t.source === "user") row.person = true;
    else row.score = t.score;
    rows.set(t.name, row);
  }
  return [...rows.values()];
}

function button(action, text, name) {
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.tagAction = action;
  b.textContent = text;
  b.setAttribute("aria-label", `${text} tag ${name}`);
  return b;
}

function showTags(entries) {
  const list = $("#image-tags");
  list.replaceChildren(...tagRows(entries).map((t) => {
    const li = document.createElement("li");
    li.dataset.name = t.name;
    const name = Object.assign(document.createElement("span"), { className: "tag-name", textContent: t.name });
    const pct = t.score === null ? "" : ` · ${t.person ? "model " : ""}${Math.round(t.score * 100)}%`;
    const source = Object.assign(document.createElement("span"), {
      className: "tag-source", textContent: `${t.person ? "person" : "model"}${pct}`,
    });
    li.append(name, " ", source);
    if (canCurate) {
      if (!t.person) li.append(" ", button("confirm", "Confirm", t.name));
      li.append(" ", button("remove", "Remove", t.name));
    }
    return li;
  }));
  $("#image-tags-empty").hidden = entries.length > 0;
}

// POST and DELETE /images/<id>/tags answer with the image's tags afterwards: {"items": [...]}.
const tagsOf = (answer) => answer.items ?? [];

// Adding a person's tag with the model's name confirms the model's tag (services/tags.py keeps
// both sources), so Confirm and Add are the same call.
async function addTag(name, said) {
  try {
    const change = await api(`/images/${id}/tags`, { method: "POST", body: { name } });
    showTags(tagsOf(change));
    notice(`#${id}: ${said} “${name}”.`);
  } catch (err) {
    notice(`Tag “${name}”: ${err.message}`, true);
  }
}

async function removeTag(name) {
  try {
    const change = await api(`/images/${id}/tags/${encodeURIComponent(name)}`, { method: "DELETE" });
    showTags(tagsOf(change));
    notice(`#${id}: tag “${name}” removed.`);
  } catch (err) {
    notice(`Tag “${name}”: ${err.message}`, true);
  }
}

async function askAndTag() {
  if (!canCurate) return;
  const name = await askTag(`Tag image #${id}`);
  if (name !== null) await addTag(name, "tagged");
}

async function askAndBoard() {
  if (!canCurate) return;
  try {
    const board = await askBoard(`Add image #${id} to a board`);
    if (board === null) return;
    await api(`/collections/${board.id}/images`, { method: "POST", body: { image_ids: [id] } });
    notice(`#${id} added to the board “${board.name}”.`);
  } catch (err) {
    notice(`Board: ${err.message}`, true);
  }
}

$("#image-tags").addEventListener("click", (event) => {
  const b = event.target.closest("button[data-tag-action]");
  if (!b) return;
  const name = b.closest("li").dataset.name;
  if (b.dataset.tagAction === "confirm") addTag(name, "confirmed the tag");
  else removeTag(name);
});
$("#image-add-tag")?.addEventListener("click", askAndTag);
$("#image-add-board")?.addEventListener("click", askAndBoard);

main.addEventListener("click", (event) => {
  const b = event.target.closest("button[data-review], button[data-rating]");
  if (!b) return;
  if (b.dataset.review) review(b.dataset.review, b.dataset.review === "unreviewed" ? "back to unreviewed" : b.dataset.review);
  else rate(Number(b.dataset.rating));
});

// -- actions -------------------------------------------------------------------------------
$("#image-restore")?.addEventListener("click", async (event) => {
  event.target.disabled = true;
  try {
    const job = await api("/restore", { method: "POST", body: { image_ids: [id] } });
    window.location.assign(`/jobs/${job.id}`);
  } catch (err) {
    notice(`Restore: ${err.message}`, true);
    event.target.disabled = false;
  }
});

// -- keys ----------------------------------------------------------------------------------
// The screen is the one "card" the keys act on (keys.js leaves fields and open dialogs alone).
main.classList.add("selected");
const keys = {
  ArrowLeft: () => go($("#image-prev")),
  ArrowRight: () => go($("#image-next")),
  Escape: () => (zoom.zoomed ? zoom.fit() : window.location.assign(back.href)),
  "?": () => keysDialog.showModal(),
};
if (canCurate) {
  Object.assign(keys, {
    p: () => review("approved", "approved"),
    x: () => review("rejected", "rejected"),
    u: () => review("unreviewed", "back to unreviewed"),
    t: askAndTag,
    b: askAndBoard,
  });
  for (let n = 0; n <= 5; n += 1) keys[String(n)] = () => rate(n);
}
bindCardKeys(document.body, "#image-main", keys);
$("#image-show-keys").addEventListener("click", () => keysDialog.showModal());

// -- similar images ------------------------------------------------------------------------
async function similar() {
  const note = $("#image-similar-note");
  let found;
  try {
    found = await api(`/search/similar/${id}?limit=${SIMILAR}`);
  } catch (err) {
    note.textContent = `Similar images are not available: ${err.message}`;
    return;
  }
  const ids = found.items.map((h) => h.id);
  $("#image-similar").replaceChildren(...found.items.map((hit) => {
    const li = document.createElement("li");
    const a = Object.assign(document.createElement("a"), { href: `/images/${hit.id}` });
    const img = Object.assign(document.createElement("img"), {
      src: hit.thumbnail_url, alt: `Image #${hit.id}`, loading: "lazy", width: 120, height: 120,
    });
    const caption = Object.assign(document.createElement("span"), {
      className: "hint", textContent: `#${hit.id} · similarity ${hit.score.toFixed(2)}`,
    });
    a.append(img, caption);
    // Opening one walks the similar images next.
    a.addEventListener("click", () => rememberList(ids, `similar to #${id}`, `/images/${id}`));
    li.append(a);
    return li;
  }));
  note.textContent = ids.length ? "" : "No similar images found.";
  note.hidden = ids.length > 0;
}
similar();
