// The suggestions screen (/tags/<name>/suggestions): the shared photo grid over the images a tag's
// classifier proposes, where a curator confirms (P) or refuses (X) the focused card or the
// selection, with the keys or the buttons, and trains the classifier again ("Learn"). Answered
// cards leave the grid; the server queues a retraining when the examples changed and says so.
// The grid's own curating keys are left off (canCurate: false), so P and X are this screen's.

import { $, api, notice } from "./api.js";
import { initGrid } from "./grid.js";
import { bindCardKeys, currentCard } from "./keys.js";

const CARD = ".photo-card";
const main = $("main.suggestions-screen");
const tag = main.dataset.tag;
const canCurate = main.dataset.canCurate === "true";
const results = $("#suggestion-results");
const root = results ?? main;
const grid = initGrid(root, { label: `Suggestions: ${tag}`, canCurate: false });
const tagPath = encodeURIComponent(tag);
const plural = (n) => `${n} image${n === 1 ? "" : "s"}`;

// The ids an answer applies to: the selection, else the focused card.
function targets(card) {
  const chosen = grid.selected();
  if (chosen.length) return chosen;
  const c = card ?? currentCard(root, CARD);
  return c ? [Number(c.dataset.id)] : [];
}

// Take answered cards out of the grid, keeping the focus on the card after the last one.
function remove(ids) {
  const cards = [...root.querySelectorAll(CARD)];
  const gone = new Set(ids.map(String));
  const last = cards.findLastIndex((c) => gone.has(c.dataset.id));
  const next = cards.slice(last + 1).find((c) => !gone.has(c.dataset.id))
    ?? cards.slice(0, last).reverse().find((c) => !gone.has(c.dataset.id));
  for (const c of cards) if (gone.has(c.dataset.id)) c.closest(".photo-item").remove();
  grid.clear();
  next?.focus();
  const empty = $("#suggestions-empty");
  if (empty) empty.hidden = root.querySelector(CARD) !== null;
}

async function answer(action, ids) {
  if (!ids.length) return;
  try {
    const body = { image_ids: ids };
    const out = action === "confirm"
      ? await api(`/tags/${tagPath}/suggestions/confirm`, { method: "POST", body })
      : await api(`/tags/${tagPath}/suggestions/refuse`, { method: "POST", body });
    remove(ids);
    const done = action === "confirm" ? `tagged “${tag}”` : `refused for “${tag}”`;
    const retrain = out.retrain ? ` Retraining the classifier (job #${out.retrain.id}).` : "";
    notice(`${plural(ids.length)} ${done}.${retrain}`);
  } catch (err) {
    notice(err.message, true);
  }
}

async function learn(button) {
  button.disabled = true;
  notice(`Learning “${tag}”…`);
  try {
    const out = await api(`/tags/${tagPath}/learn`, { method: "POST" });
    notice(`Learned “${tag}” from ${plural(out.positives)} tagged.`);
    window.location.reload();
  } catch (err) {
    notice(err.message, true);
    button.disabled = false;
  }
}

if (canCurate) {
  bindCardKeys(root, CARD, {
    p: (c) => answer("confirm", targets(c)),
    x: (c) => answer("refuse", targets(c)),
  });
  document.querySelector(".suggestion-actions")?.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-answer]");
    if (button) answer(button.dataset.answer, targets(null));
  });
  const learnButton = $("#learn");
  learnButton?.addEventListener("click", () => learn(learnButton));
}
$("#suggestion-show-keys")?.addEventListener("click", () => $("#grid-keys").showModal());
// The best suggestion has focus on load, so P and X answer it at once.
root.querySelector(CARD)?.focus();
