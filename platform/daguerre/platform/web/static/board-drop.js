// The board drop zone (templates/_board_drop.html): cards dragged from any photo grid carry their
// ids as application/x-daguerre-ids (grid.js); dropping them on a board adds them to it through
// the API and shows the board's new count. The drawer opens while such a drag is under way, so
// a board is in reach without opening it first. The keyboard's way to the same thing is the
// grid's key B and the bulk bar's "Add to board".

import { api, notice } from "./api.js";

const TYPE = "application/x-daguerre-ids";
const TARGET = ".board-drop-target";

const plural = (n) => `${n} image${n === 1 ? "" : "s"}`;

// The ids a drop carries, or null when it is not a list of whole numbers.
function idsOf(dataTransfer) {
  try {
    const ids = JSON.parse(dataTransfer.getData(TYPE));
    return Array.isArray(ids) && ids.length && ids.every(Number.isInteger) ? ids : null;
  } catch {
    return null;
  }
}

export function initBoardDrop(zone) {
  const carries = (event) => [...(event.dataTransfer?.types ?? [])].includes(TYPE);
  let wasOpen = zone.open;

  // A drag of cards anywhere on the page opens the drawer; a drag that drops nothing here leaves
  // it as it was.
  document.addEventListener("dragstart", (event) => {
    if (!carries(event)) return;
    wasOpen = zone.open;
    zone.open = true;
    zone.classList.add("board-drop-active");
  });
  document.addEventListener("dragend", () => {
    zone.classList.remove("board-drop-active");
    zone.open = wasOpen;
  });

  zone.addEventListener("dragover", (event) => {
    const target = event.target.closest(TARGET);
    if (!target || !carries(event)) return;
    event.preventDefault(); // accept the drop here
    event.dataTransfer.dropEffect = "copy";
    target.classList.add("drop-over");
  });
  zone.addEventListener("dragleave", (event) => {
    const target = event.target.closest(TARGET);
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("drop-over");
  });
  zone.addEventListener("drop", async (event) => {
    const target = event.target.closest(TARGET);
    if (!target) return;
    event.preventDefault();
    target.classList.remove("drop-over");
    wasOpen = true; // stay open after a drop, so the new count shows
    const ids = idsOf(event.dataTransfer);
    if (!ids) {
      notice("Only images from the grid can be dropped on a board.", true);
      return;
    }
    const name = target.dataset.boardName;
    try {
      const got = await api(`/collections/${target.dataset.boardId}/images`,
        { method: "POST", body: { image_ids: ids } });
      target.querySelector(".board-drop-count").textContent = String(got.collection.images);
      target.classList.add("drop-done");
      setTimeout(() => target.classList.remove("drop-done"), 1500);
      const already = ids.length - got.added;
      notice(`${plural(got.added)} added to “${name}”${already ? ` (${already} already on it)` : ""}.`);
    } catch (err) {
      notice(`Could not add to “${name}”: ${err.message}`, true);
    }
  });
}

const zone = document.querySelector(".board-drop");
if (zone && !zone.dataset.ready) {
  zone.dataset.ready = "true";
  initBoardDrop(zone);
}
