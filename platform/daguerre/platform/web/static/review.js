// The review screen: curate the focused card with its buttons or the keys (static/keys.js),
// through PATCH /api/v1/images/<id> (static/api.js sends the CSRF header); an approved or rejected
// card leaves the queue and focus moves to the next one, so a batch clears without the mouse.
// "More" appends the next page (the server renders it; the link alone works without scripts).

import { $, api, notice } from "./api.js";
import { askBoard, askTag } from "./dialogs.js";
import { bindCardKeys, moveFocus } from "./keys.js";

const CARD = ".review-card";
const main = $("main.review-screen");
const grid = $("#review-grid");
const canCurate = main.dataset.canCurate === "true";
const keysDialog = $("#review-keys");
let total = Number(($("#review-count").textContent.match(/\d+/) ?? ["0"])[0]);

function showCount() {
  $("#review-count").textContent =
    `${total} image${total === 1 ? "" : "s"} awaiting review, ${main.dataset.order}.`;
  $("#review-empty").hidden = grid.querySelector(CARD) !== null;
}

function show(card, image) {
  card.querySelector(".review-rating").textContent = image.rating ?? "none";
  card.querySelector(".review-review").textContent = image.review_state;
  for (const b of card.querySelectorAll("button[data-rating]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.rating) === image.rating));
  }
}

// Take the card out of the queue, focusing its neighbour (the next one, else the one before).
function leave(card) {
  const item = card.closest("li");
  const neighbour = (item.nextElementSibling ?? item.previousElementSibling)?.querySelector(CARD);
  item.remove();
  total = Math.max(0, total - 1);
  showCount();
  if (neighbour) neighbour.focus();
}

async function curate(card, changes, said) {
  if (!card || !canCurate) return;
  try {
    const image = await api(`/images/${card.dataset.id}`, { method: "PATCH", body: changes });
    notice(`#${image.id} ${said}.`);
    if (image.review_state === "unreviewed") show(card, image);
    else leave(card);
  } catch (err) {
    notice(`#${card.dataset.id}: ${err.message}`, true);
  }
}

const ACTIONS = {
  approve: (card) => curate(card, { review_state: "approved" }, "approved"),
  reject: (card) => curate(card, { review_state: "rejected" }, "rejected"),
  unreview: (card) => curate(card, { review_state: "unreviewed" }, "back to unreviewed"),
};
// Tag the card, or add it to a board: the same questions (and keys) as on every other screen.
async function tag(card) {
  if (!card || !canCurate) return;
  const name = await askTag(`Add a tag to #${card.dataset.id}`);
  if (!name) return;
  try {
    await api(`/images/${card.dataset.id}/tags`, { method: "POST", body: { name } });
    notice(`#${card.dataset.id} tagged “${name}”.`);
  } catch (err) {
    notice(`#${card.dataset.id}: ${err.message}`, true);
  }
  card.focus();
}

async function board(card) {
  if (!card || !canCurate) return;
  try {
    const b = await askBoard(`Add #${card.dataset.id} to a board`);
    if (!b) return;
    await api(`/collections/${b.id}/images`, { method: "POST", body: { image_ids: [Number(card.dataset.id)] } });
    notice(`#${card.dataset.id} added to “${b.name}”.`);
  } catch (err) {
    notice(`#${card.dataset.id}: ${err.message}`, true);
  }
  card.focus();
}
ACTIONS.tag = tag;
ACTIONS.board = board;

const rate = (card, n) => curate(card, { rating: n }, n ? `rated ${n}` : "rating cleared");

const keys = { "?": () => keysDialog.showModal() };
if (canCurate) {
  Object.assign(keys, { p: ACTIONS.approve, x: ACTIONS.reject, u: ACTIONS.unreview, t: tag, b: board });
  for (let n = 0; n <= 5; n += 1) keys[String(n)] = (card) => rate(card, n);
}
bindCardKeys(grid, CARD, keys);

grid.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const card = button.closest(CARD);
  if (button.dataset.action === "rate") rate(card, Number(button.dataset.rating));
  else ACTIONS[button.dataset.action]?.(card);
});

$("#review-prev").addEventListener("click", () => moveFocus(grid, CARD, -1));
$("#review-next").addEventListener("click", () => moveFocus(grid, CARD, 1));
$("#review-show-keys").addEventListener("click", () => keysDialog.showModal());

// "More": fetch the next page as the server renders it and append its cards.
async function more(event) {
  const link = event.target.closest("#review-more");
  if (!link) return;
  event.preventDefault();
  try {
    const resp = await fetch(link.href, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = [...doc.querySelectorAll("#review-grid > li")]
      .filter((li) => !grid.querySelector(`${CARD}[data-id="${li.firstElementChild.dataset.id}"]`));
    grid.append(...fresh.map((li) => document.adoptNode(li)));
    const next = doc.querySelector("#review-more");
    if (next) link.href = next.getAttribute("href");
    else link.remove();
    fresh[0]?.querySelector(CARD)?.focus();
    showCount();
  } catch (err) {
    notice(`Could not load more: ${err.message}`, true);
  }
}
$(".review-pages").addEventListener("click", more);

// Start on the first card, so the keys work as soon as the page opens.
grid.querySelector(CARD)?.focus();
