// The photo grid every list screen shares (timeline, search, boards): selection with the mouse
// and the keys, Lightroom's keys on the selection (or the focused card when nothing is
// selected), and the bulk bar's actions through the JSON API. Markup: templates/_grid.html.
//
//   click                select only this card      Ctrl/⌘-click   add or remove it
//   Shift-click          the range from the last clicked card (added with Ctrl/⌘ held)
//   Ctrl/⌘-A             every loaded card          Esc            clear the selection
//   Enter, or the #id    open the image (the list is remembered for previous/next there)
//
// Screens call `initGrid(root, {label})`; cards appended later (the next page) take part at once,
// since every handler is delegated to the grid's root.

import { $, api, notice } from "./api.js";
import { askBoard, askTag } from "./dialogs.js";
import { bindCardKeys, currentCard } from "./keys.js";
import { rememberList } from "./list-memory.js";

const CARD = ".photo-card";
const TYPING = "input, textarea, select, [contenteditable=''], [contenteditable='true']";

export function initGrid(root, { label = document.title, canCurate = false } = {}) {
  const bar = document.querySelector(".bulk-bar");
  const selected = new Set();
  let anchor = null; // the card a Shift-click range starts from

  const cards = () => [...root.querySelectorAll(CARD)];
  const card = (id) => root.querySelector(`${CARD}[data-id="${id}"]`);

  function paint() {
    for (const c of cards()) {
      const on = selected.has(c.dataset.id);
      c.classList.toggle("selected", on);
      c.querySelector(".card-select").checked = on;
    }
    if (bar) {
      bar.hidden = selected.size === 0;
      bar.querySelector(".bulk-count").textContent =
        `${selected.size} selected`;
    }
  }

  function select(ids, { add = false } = {}) {
    if (!add) selected.clear();
    for (const id of ids) selected.add(String(id));
    paint();
  }

  function clear() {
    selected.clear();
    paint();
  }

  function toggle(c) {
    if (selected.has(c.dataset.id)) selected.delete(c.dataset.id);
    else selected.add(c.dataset.id);
    paint();
  }

  function range(to, add) {
    const all = cards();
    const from = anchor && all.includes(anchor) ? anchor : to;
    const [a, b] = [all.indexOf(from), all.indexOf(to)].sort((x, y) => x - y);
    select(all.slice(a, b + 1).map((c) => c.dataset.id), { add });
  }

  // The ids an action applies to: the selection, else the focused card.
  function targets(focused) {
    if (selected.size) return [...selected].map(Number);
    const c = focused ?? currentCard(root, CARD);
    return c ? [Number(c.dataset.id)] : [];
  }

  function open(c) {
    if (!c) return;
    rememberList(cards().map((x) => Number(x.dataset.id)), label, window.location.href);
    window.location.assign(c.querySelector(".card-open").href);
  }

  root.addEventListener("click", (event) => {
    const c = event.target.closest(CARD);
    if (!c) return;
    if (event.target.closest(".card-open")) {
      // A plain click opens (and remembers the list); a modified one is the browser's (new tab).
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      open(c);
      return;
    }
    if (event.target.closest("button, a, select")) return;
    event.preventDefault();
    if (event.shiftKey) range(c, event.ctrlKey || event.metaKey);
    else if (event.ctrlKey || event.metaKey || event.target.closest(".card-select")) toggle(c);
    else if (selected.size === 1 && selected.has(c.dataset.id)) clear();
    else select([c.dataset.id]);
    if (!event.shiftKey) anchor = c;
    c.focus();
  });
  root.addEventListener("dblclick", (event) => open(event.target.closest(CARD)));

  // Dragging a card carries the selection (or the card) to a drop target such as a board.
  root.addEventListener("dragstart", (event) => {
    const c = event.target.closest(CARD);
    if (!c) return;
    const ids = selected.has(c.dataset.id) ? [...selected].map(Number) : [Number(c.dataset.id)];
    event.dataTransfer.setData("application/x-daguerre-ids", JSON.stringify(ids));
    event.dataTransfer.setData("text/plain", ids.map((i) => `#${i}`).join(" "));
    event.dataTransfer.effectAllowed = "copy";
  });

  // Redraw the cards an answer changed (rating and review state).
  function redraw(ids, changes) {
    for (const id of ids) {
      const c = card(id);
      if (!c) continue;
      if ("rating" in changes) {
        c.dataset.rating = changes.rating ?? "";
        c.querySelector(".card-rating").textContent = changes.rating ? `★${changes.rating}` : "";
      }
      if ("review_state" in changes) {
        const review = c.querySelector(".card-review");
        c.dataset.review = changes.review_state;
        review.className = `card-review review-${changes.review_state}`;
        review.textContent = changes.review_state === "unreviewed" ? "" : changes.review_state;
      }
    }
  }

  const plural = (n) => `${n} image${n === 1 ? "" : "s"}`;

  async function bulk(ids, changes, said) {
    if (!ids.length) return;
    try {
      await api("/images/bulk", { method: "POST", body: { ids, ...changes } });
      redraw(ids, changes);
      notice(`${plural(ids.length)} ${said}.`);
    } catch (err) {
      notice(err.message, true);
    }
  }

  async function addTag(ids) {
    if (!ids.length) return;
    const name = await askTag(`Add a tag to ${plural(ids.length)}`);
    if (name) await bulk(ids, { add_tags: [name] }, `tagged “${name}”`);
  }

  async function removeTag(ids) {
    if (!ids.length) return;
    const name = await askTag(`Remove a tag from ${plural(ids.length)}`);
    if (name) await bulk(ids, { remove_tags: [name] }, `no longer tagged “${name}”`);
  }

  async function addToBoard(ids) {
    if (!ids.length) return;
    try {
      const board = await askBoard(`Add ${plural(ids.length)} to a board`);
      if (!board) return;
      await api(`/collections/${board.id}/images`, { method: "POST", body: { image_ids: ids } });
      notice(`${plural(ids.length)} added to “${board.name}”.`);
    } catch (err) {
      notice(err.message, true);
    }
  }

  async function removeFromBoard(ids, boardId) {
    try {
      await api(`/collections/${boardId}/images`, { method: "DELETE", body: { image_ids: ids } });
      for (const id of ids) card(id)?.closest(".photo-item")?.remove();
      for (const id of ids) selected.delete(String(id));
      paint();
      notice(`${plural(ids.length)} removed from the board.`);
    } catch (err) {
      notice(err.message, true);
    }
  }

  async function restore(ids) {
    try {
      const job = await api("/restore", { method: "POST", body: { image_ids: ids } });
      notice(`Restoring ${plural(ids.length)}: job #${job.id}.`);
      window.location.assign(`/jobs/${job.id}`);
    } catch (err) {
      notice(err.message, true);
    }
  }

  // A download is a form post (the browser saves the streamed answer as it comes, however
  // large), carrying the page's CSRF token. It targets a hidden frame: a zip is saved and the
  // frame never loads, while an error (a JSON body) loads there and is shown as a notice.
  function exportFrame() {
    let frame = document.getElementById("export-frame");
    if (!frame) {
      frame = Object.assign(document.createElement("iframe"), { name: "export-frame", id: "export-frame", title: "Export" });
      frame.hidden = true;
      // A saved download loads nothing; anything that loads is a refusal. The page refuses to
      // be framed (frame-ancestors), so its text may be unreadable: then say it generally.
      frame.addEventListener("load", () => {
        if (frame.dataset.armed !== "true") return; // the empty frame's own first load
        frame.dataset.armed = "false";
        let text = "";
        try { text = frame.contentDocument?.body?.textContent ?? ""; } catch { /* opaque */ }
        let message = text || "the server refused it";
        try { message = JSON.parse(text).error ?? message; } catch { /* not JSON */ }
        notice(`Export failed: ${message}`, true);
      });
      document.body.append(frame);
    }
    return frame;
  }

  function exportZip(ids) {
    const form = Object.assign(document.createElement("form"), {
      method: "post", action: `${document.body.dataset.api}/export`, target: exportFrame().name,
    });
    form.hidden = true;
    for (const [name, value] of [["ids", ids.join(",")],
      ["csrf_token", document.querySelector("meta[name=csrf-token]").content]]) {
      form.append(Object.assign(document.createElement("input"), { type: "hidden", name, value }));
    }
    document.body.append(form);
    document.getElementById("export-frame").dataset.armed = "true";
    form.submit();
    form.remove();
    notice(`Exporting ${plural(ids.length)}…`);
  }

  const rate = (n) => (c) => bulk(targets(c), { rating: n || null }, n ? `rated ${n}` : "rating cleared");
  const keys = {
    Enter: (c) => open(c),
    Escape: () => clear(),
    "?": () => $("#grid-keys")?.showModal(),
    "/": () => {
      const box = document.querySelector("#search-q");
      if (box) box.focus();
      else window.location.assign("/search");
    },
  };
  if (canCurate) {
    Object.assign(keys, {
      p: (c) => bulk(targets(c), { review_state: "approved" }, "approved"),
      x: (c) => bulk(targets(c), { review_state: "rejected" }, "rejected"),
      u: (c) => bulk(targets(c), { review_state: "unreviewed" }, "back to unreviewed"),
      t: (c) => addTag(targets(c)),
      b: (c) => addToBoard(targets(c)),
    });
    for (let n = 0; n <= 5; n += 1) keys[String(n)] = rate(n);
  }
  bindCardKeys(root, CARD, keys);

  // Ctrl/⌘-A selects every loaded card, unless the person is typing (then it is the field's).
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "a") return;
    if (event.target.closest?.(TYPING) || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    select(cards().map((c) => c.dataset.id));
  });

  bar?.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-bulk]");
    if (!button) return;
    const ids = targets(null);
    const act = {
      approve: () => bulk(ids, { review_state: "approved" }, "approved"),
      reject: () => bulk(ids, { review_state: "rejected" }, "rejected"),
      unreview: () => bulk(ids, { review_state: "unreviewed" }, "back to unreviewed"),
      tag: () => addTag(ids),
      untag: () => removeTag(ids),
      board: () => addToBoard(ids),
      unboard: () => removeFromBoard(ids, button.dataset.board),
      restore: () => restore(ids),
      export: () => exportZip(ids),
      clear: () => clear(),
    }[button.dataset.bulk];
    act?.();
  });
  bar?.querySelector("select[data-bulk=rate]")?.addEventListener("change", (event) => {
    const value = event.target.value;
    event.target.value = "";
    if (value !== "") rate(Number(value))(null);
  });

  return { select, clear, selected: () => [...selected].map(Number), repaint: paint };
}
