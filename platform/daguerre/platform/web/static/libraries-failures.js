// A library's failures, expandable under its row: the files its last index run could not
// read, with their reasons (GET /libraries/{id}/failures; each run replaces the last one's).

import { api } from "./api.js";

// One page is plenty to read on a screen; the total says when there are more.
const SHOWN = 500;

export async function loadFailures(body) {
  const row = body.querySelector(".failures-row");
  const status = row.querySelector(".failures-status");
  const list = row.querySelector(".failures-list");
  status.textContent = "Loading…";
  try {
    const page = await api(`/libraries/${body.dataset.id}/failures?limit=${SHOWN}`);
    list.replaceChildren(...page.items.map((failure) => {
      const item = document.createElement("li");
      const path = document.createElement("code");
      path.textContent = failure.path;
      const reason = document.createElement("span");
      reason.className = "reason";
      reason.textContent = failure.reason;
      item.append(path, " ", reason);
      return item;
    }));
    status.textContent = page.total === 0 ? "The last index read every file."
      : page.total > page.items.length ? `The first ${page.items.length} of ${page.total}.` : "";
    return page.total;
  } catch (err) {
    status.textContent = `Could not load the failures: ${err.message}`;
    return null;
  }
}

export async function toggleFailures(body) {
  const button = body.querySelector(".failures-toggle");
  const row = body.querySelector(".failures-row");
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  row.hidden = !open;
  if (open) await loadFailures(body);
}

export function failuresOpen(body) {
  return !body.querySelector(".failures-row").hidden;
}
