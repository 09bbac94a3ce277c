// Small modal questions the screens ask before an action: which tag, which board. Each builds a
// native <dialog> (focus trapped, Esc cancels) once, fills it on demand and resolves with the
// answer, or null when the person cancels. Used by the grid's bulk bar, the image screen and the
// keys `t` and `b`, so the question looks and behaves the same everywhere.

import { api } from "./api.js";

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// A <dialog> with a title, a labelled field and OK/Cancel; resolves with the field's value.
function ask({ id, title, label, submit, options = [], datalist = false }) {
  let dialog = document.getElementById(id);
  if (!dialog) {
    dialog = el("dialog", { id, className: "ask-dialog" });
    dialog.setAttribute("aria-labelledby", `${id}-title`);
    const form = el("form", { method: "dialog" });
    const input = el("input", { id: `${id}-field`, name: "value", required: true, autocomplete: "off" });
    const list = el("datalist", { id: `${id}-list` });
    if (datalist) input.setAttribute("list", list.id);
    form.append(
      el("h3", { id: `${id}-title` }),
      el("label", { htmlFor: input.id, className: "ask-label" }),
      input, list,
      el("p", { className: "ask-hint hint" }),
      el("div", { className: "ask-buttons" },
        el("button", { type: "submit", value: "ok", className: "ask-ok" }),
        el("button", { type: "button", value: "cancel", className: "ask-cancel", textContent: "Cancel" })),
    );
    dialog.append(form);
    document.body.append(dialog);
    form.querySelector(".ask-cancel").addEventListener("click", () => dialog.close("cancel"));
  }
  dialog.querySelector("h3").textContent = title;
  dialog.querySelector(".ask-label").textContent = label;
  dialog.querySelector(".ask-ok").textContent = submit;
  const input = dialog.querySelector("input");
  input.value = "";
  dialog.querySelector("datalist").replaceChildren(
    ...options.map((o) => el("option", { value: o.value, label: o.label ?? o.value })));
  dialog.querySelector(".ask-hint").textContent =
    options.length && datalist ? "Type to choose from the list, or a new name." : "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" && input.value.trim() ? input.value.trim() : null);
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
}

// Ask for a tag name, offering the library's tags; resolves with the name or null.
export async function askTag(title = "Add a tag") {
  let tags = [];
  try {
    tags = (await api("/tags?limit=500")).items.map((t) => ({ value: t.name }));
  } catch { /* offer none; a new name still works */ }
  return ask({ id: "ask-tag", title, label: "Tag", submit: "Add tag", options: tags, datalist: true });
}

// Ask which board; a name that is not a board yet makes one. Resolves with {id, name} or null.
export async function askBoard(title = "Add to a board") {
  const boards = (await api("/collections")).items;
  const name = await ask({
    id: "ask-board", title, label: "Board", submit: "Add to board", datalist: true,
    options: boards.map((b) => ({ value: b.name, label: `${b.name} (${b.images})` })),
  });
  if (name === null) return null;
  const found = boards.find((b) => b.name === name);
  if (found) return { id: found.id, name: found.name };
  const made = await api("/collections", { method: "POST", body: { name } });
  return { id: made.id, name: made.name };
}
