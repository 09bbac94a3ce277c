// The settings screen: one's password and tokens, and an admin's people and tokens, each change
// through the JSON API (static/api.js sends the CSRF header). After a change a list is redrawn by
// reading this page again and taking its freshly rendered list, so the server renders every list
// and the script never builds a row of its own. The server checks every rule again (roles, the
// last admin, oneself); the page only spares a person a request that would be refused.

import { $, api } from "./api.js";

const main = $("main.settings-screen");

// A section's status line: what happened, or what was wrong (in the error colour).
function say(id, text, isError = false) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
  el.classList.toggle("ok", !isError && text !== "");
}

// Replace each listed container with the one the server renders now.
async function redraw(...ids) {
  const resp = await fetch(window.location.pathname, { credentials: "same-origin" });
  if (!resp.ok) throw new Error(`could not reload the lists (HTTP ${resp.status})`);
  const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
  for (const id of ids) {
    const fresh = doc.getElementById(id);
    const old = document.getElementById(id);
    if (fresh && old) old.replaceWith(document.adoptNode(fresh));
  }
}

// Two password fields must agree before anything is sent.
function samePasswords(a, b, statusId) {
  if (a.value === b.value) return true;
  say(statusId, "The two passwords differ.", true);
  b.focus();
  return false;
}

// -- Your password -------------------------------------------------------------------------
$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  if (!samePasswords(form.new_password, form.repeat, "password-status")) return;
  try {
    await api("/me/password", {
      method: "POST",
      body: { current_password: form.current_password.value, new_password: form.new_password.value },
    });
    form.reset();
    say("password-status", "Password changed. Your other sessions have ended.");
  } catch (err) {
    say("password-status", err.message, true);
    (err.message.startsWith("current_password") ? form.current_password : form.new_password).focus();
  }
});

// -- Your API tokens -----------------------------------------------------------------------
$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  try {
    const made = await api("/me/tokens", { method: "POST", body: { name: form.name.value } });
    form.reset();
    $("#new-token-name").textContent = `“${made.name}”`;
    $("#new-token-value").value = made.token;
    $("#new-token").hidden = false;
    say("my-tokens-status", `Token “${made.name}” created.`);
    await redraw("my-tokens-list", "all-tokens-list");
    $("#new-token-value").select();
    $("#new-token-value").focus();
  } catch (err) {
    say("my-tokens-status", err.message, true);
  }
});

$("#copy-token").addEventListener("click", async () => {
  const field = $("#new-token-value");
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select(); // no clipboard permission: leave it selected for Ctrl+C
    say("my-tokens-status", "Copying was refused: the token is selected, press Ctrl+C.", true);
    return;
  }
  say("my-tokens-status", "Copied. Store it now: it will not be shown again.");
});

// Revoke a token (one's own, or as an admin anyone's), after a confirmation.
async function revoke(row, path, statusId) {
  const name = row.dataset.name;
  if (!window.confirm(`Revoke the token “${name}”? Scripts using it stop working at once.`)) return;
  try {
    await api(path, { method: "DELETE" });
    say(statusId, `Token “${name}” revoked.`);
    await redraw("my-tokens-list", "all-tokens-list");
  } catch (err) {
    say(statusId, `${name}: ${err.message}`, true);
  }
}

main.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const action = button.dataset.action;
  if (action === "revoke-mine") revoke(row, `/me/tokens/${row.dataset.token}`, "my-tokens-status");
  else if (action === "revoke-any") revoke(row, `/tokens/${row.dataset.token}`, "all-tokens-status");
  else if (action === "remove") removePerson(row);
  else if (action === "reset") openReset(row);
});

// -- People (admins only: the section is not rendered for anyone else) ---------------------
const people = $("#people-section");

async function removePerson(row) {
  const name = row.dataset.name;
  if (!window.confirm(`Remove ${name}? Their API tokens stop working at once.`)) return;
  try {
    await api(`/users/${row.dataset.user}`, { method: "DELETE" });
    say("people-status", `${name} removed, with their tokens.`);
    await redraw("people-list", "all-tokens-list");
  } catch (err) {
    say("people-status", `${name}: ${err.message}`, true);
  }
}

let resetting = null; // the row whose password the dialog resets

function openReset(row) {
  resetting = row;
  $("#reset-name").textContent = row.dataset.name;
  $("#reset-form").reset();
  say("reset-status", "");
  $("#reset-dialog").showModal();
  $("#reset-password").focus();
}

if (people) {
  people.addEventListener("change", async (event) => {
    const select = event.target.closest("select[data-action=role]");
    if (!select) return;
    const row = select.closest("tr");
    try {
      const user = await api(`/users/${row.dataset.user}`, { method: "PATCH", body: { role: select.value } });
      row.dataset.role = user.role;
      say("people-status", `${user.name} is now a ${user.role}.`);
      await redraw("all-tokens-list"); // their tokens carry the new role
    } catch (err) {
      select.value = row.dataset.role; // nothing changed: show the role they still have
      say("people-status", `${row.dataset.name}: ${err.message}`, true);
    }
  });

  $("#reset-cancel").addEventListener("click", () => $("#reset-dialog").close());

  $("#reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!samePasswords(form.password, form.repeat, "reset-status")) return;
    try {
      const user = await api(`/users/${resetting.dataset.user}`, {
        method: "PATCH", body: { password: form.password.value },
      });
      $("#reset-dialog").close();
      say("people-status", `Password of ${user.name} reset; their sessions have ended.`);
      resetting.querySelector("button[data-action=reset]").focus();
    } catch (err) {
      say("reset-status", err.message, true);
    }
  });

  $("#add-person-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!samePasswords(form.password, form.repeat, "add-person-status")) return;
    try {
      const user = await api("/users", {
        method: "POST",
        body: { name: form.name.value, role: form.role.value, password: form.password.value },
      });
      form.reset();
      say("add-person-status", `${user.name} added as a ${user.role}.`);
      await redraw("people-list");
    } catch (err) {
      say("add-person-status", err.message, true);
    }
  });
}
