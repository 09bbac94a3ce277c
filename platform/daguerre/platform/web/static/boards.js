// The boards screens: the list (/boards: make a board, rename, delete) and one board
// (/boards/<id>: the shared photo grid, its pages, rename, delete). Renaming and deleting ask
// first in a native <dialog> (templates/_board_manage.html); the server refuses anyone who is
// not a curator all the same, and its message is shown as it is (a name that is taken, say).

import { $, api, notice } from "./api.js";

const plural = (n) => `${n} image${n === 1 ? "" : "s"}`;

// The element that names a board (a card on the list, or the board page's <main>).
const holder = (el) => el.closest("[data-board-id]");

// Open `dialog`; resolve with what `act` returns once it succeeds, or null when cancelled. An
// error from `act` is shown in the dialog, which stays open for another try.
function ask(dialog, act) {
  const form = dialog.querySelector("form");
  const error = dialog.querySelector(".board-dialog-error");
  error.textContent = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      try {
        done(await act());
      } catch (err) {
        error.textContent = err.message;
      }
    };
    const onCancel = () => done(null);
    const cancel = dialog.querySelector(".board-dialog-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

// Show a board's new name wherever this page shows it.
function named(el, board) {
  el.dataset.boardName = board.name;
  for (const n of el.querySelectorAll(".board-name")) n.textContent = board.name;
  el.querySelector("[data-board-action=rename]")?.setAttribute("aria-label", `Rename board “${board.name}”`);
  el.querySelector("[data-board-action=delete]")?.setAttribute("aria-label", `Delete board “${board.name}”`);
  el.querySelector(".board-manage")?.setAttribute("aria-label", `Manage board “${board.name}”`);
}

async function rename(el) {
  const dialog = $("#board-rename");
  const field = dialog.querySelector("input");
  field.value = el.dataset.boardName;
  dialog.querySelector("h3").textContent = `Rename board “${el.dataset.boardName}”`;
  const board = await ask(dialog, () => api(`/collections/${el.dataset.boardId}`,
    { method: "PATCH", body: { name: field.value } }));
  if (!board) return null;
  named(el, board);
  notice(`Board renamed “${board.name}”.`);
  return board;
}

async function remove(el) {
  const dialog = $("#board-delete");
  const name = el.dataset.boardName;
  const count = Number(el.dataset.images);
  dialog.querySelector("h3").textContent = `Delete board “${name}”?`;
  dialog.querySelector(".board-delete-text").textContent =
    `Only the board is deleted: its ${plural(count)} stay in the catalog, on disk and on any `
    + "other board.";
  const ok = await ask(dialog, async () => {
    await api(`/collections/${el.dataset.boardId}`, { method: "DELETE" });
    return true;
  });
  if (ok) notice(`Board “${name}” deleted; its images are kept.`);
  return ok;
}

// ---- /boards: the list --------------------------------------------------------------------
function initList(list) {
  const empty = $("#boards-empty");
  const form = $("#board-create");

  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = form.querySelector("input");
    try {
      const board = await api("/collections", { method: "POST", body: { name: field.value } });
      const card = $("#board-card-template").content.firstElementChild.cloneNode(true);
      card.dataset.boardId = board.id;
      card.querySelector(".board-open").href = `/boards/${board.id}`;
      named(card, board);
      // Keep the list in name order, as the server gives it.
      const after = [...list.children].find((c) => c.dataset.boardName.localeCompare(board.name) > 0);
      list.insertBefore(card, after ?? null);
      empty.hidden = true;
      field.value = "";
      notice(`Board “${board.name}” created.`);
    } catch (err) {
      notice(err.message, true);
      field.focus();
    }
  });

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-board-action]");
    if (!button) return;
    const card = holder(button);
    if (button.dataset.boardAction === "rename") {
      await rename(card);
    } else if (await remove(card)) {
      card.remove();
      empty.hidden = list.children.length > 0;
    }
  });
}

// ---- /boards/<id>: one board ----------------------------------------------------------------
async function initBoard(main) {
  const pages = $("#board-pages");
  const count = $("#board-count");
  const canCurate = main.dataset.canCurate === "true";

  main.querySelector(".board-tools").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-board-action]");
    if (!button) return;
    if (button.dataset.boardAction === "rename") {
      const board = await rename(main);
      if (!board) return;
      document.title = `${board.name} · Boards · Daguerre`;
      const unboard = document.querySelector("button[data-bulk=unboard]");
      if (unboard) unboard.textContent = `Remove from “${board.name}”`;
    } else if (await remove(main)) {
      window.location.assign("/boards");
    }
  });
  $("#board-show-keys").addEventListener("click", () => $("#grid-keys")?.showModal());

  // Cards taken off the board by the bulk bar leave the grid (one by one; the pager empties a
  // chunk whole, which is not a removal): count them down, and move the next page's offset back
  // by as many, so the images that slid up into this page are not skipped.
  new MutationObserver((changes) => {
    let gone = 0;
    for (const change of changes) {
      for (const node of change.removedNodes) if (node.classList?.contains("photo-item")) gone += 1;
    }
    if (!gone) return;
    const left = Math.max(0, Number(main.dataset.images) - gone);
    main.dataset.images = String(left);
    count.textContent = plural(left);
    const more = pages.querySelector("a.pager-next");
    if (more) {
      const url = new URL(more.href);
      url.searchParams.set("offset", String(Math.max(0, Number(url.searchParams.get("offset")) - gone)));
      more.href = url.href;
    }
    if (!left) {
      $("#board-empty").hidden = false;
      $("#board-export")?.remove();
    }
  }).observe(pages, { childList: true, subtree: true });

  // The grid and the pager are their own modules; without them the page still works as links.
  try {
    const { initGrid } = await import("./grid.js");
    initGrid(pages, { label: `Board “${main.dataset.boardName}”`, canCurate });
  } catch (err) {
    notice(`The grid could not start: ${err.message}`, true);
  }
  try {
    const { initPager } = await import("./pager.js");
    initPager(pages);
  } catch { /* no pager yet: "More" opens the next page */ }
}

const list = $("#board-list");
if (list) initList(list);
const main = document.querySelector("main.board-screen");
if (main) initBoard(main);
