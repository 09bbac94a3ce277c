// The duplicates screen: "Keep this one" resolves a group keeping that image; "Resolve every
// group on this page" resolves each unresolved group with its suggested keeper after one
// confirmation. Both go through the API (static/api.js, CSRF header), so the service decides
// what may be resolved; a viewer's page has no controls and the API refuses one anyway (403).
import { $, api, notice } from "./api.js";

function groupsLeft() {
  return [...document.querySelectorAll(".dup-group:not(.resolved)")]
    .filter((g) => g.querySelector("button.keep"));
}

// Mark a group resolved in place: the kept image stays highlighted, the rest are greyed out.
function markResolved(section, out) {
  section.classList.add("resolved");
  section.querySelectorAll("button.keep").forEach((b) => b.remove());
  section.querySelectorAll(".dup-member").forEach((fig) => {
    const id = Number(fig.dataset.id);
    fig.classList.toggle("kept", id === out.keeper);
    fig.classList.toggle("dropped", out.duplicates.includes(id));
  });
  const status = section.querySelector(".group-status");
  status.textContent = `Resolved: kept #${out.keeper}; marked ${out.duplicates.map((i) => `#${i}`).join(", ")} as duplicates`
    + (out.tags_merged ? ` (${out.tags_merged} tag(s) merged)` : "") + ".";
  status.classList.remove("error");
  status.hidden = false;
}

async function resolve(section, keep) {
  const out = await api(`/duplicates/${encodeURIComponent(section.dataset.group)}/resolve`,
    { method: "POST", body: { keep } });
  markResolved(section, out);
  return out;
}

function showError(section, err) {
  const status = section.querySelector(".group-status");
  status.textContent = err.status === 404
    ? "This group has changed since the page was loaded; reload the page to see it as it is now."
    : `Could not resolve: ${err.message}`;
  status.classList.add("error");
  status.hidden = false;
}

document.querySelectorAll(".dup-group").forEach((section) => {
  section.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.keep");
    if (!btn) return;
    section.querySelectorAll("button.keep").forEach((b) => { b.disabled = true; });
    try {
      await resolve(section, Number(btn.dataset.keep));
    } catch (err) {
      showError(section, err);
      section.querySelectorAll("button.keep").forEach((b) => { b.disabled = false; });
    }
    if (!groupsLeft().length) $("#resolve-all")?.setAttribute("disabled", "");
  });
});

$("#resolve-all")?.addEventListener("click", async (ev) => {
  const btn = ev.currentTarget;
  const left = groupsLeft();
  if (!left.length) return;
  if (!window.confirm(`Resolve ${left.length} group(s) on this page, keeping each group's suggested keeper? `
    + "The others are marked as duplicates; no file is deleted.")) return;
  btn.disabled = true;
  let done = 0;
  let failed = 0;
  // One group at a time: a group resolved first can change an overlapping one (the API says 404).
  for (const section of left) {
    try {
      await resolve(section, Number(section.dataset.keeper));
      done += 1;
    } catch (err) {
      showError(section, err);
      failed += 1;
    }
    notice(`Resolved ${done} of ${left.length} group(s)…`);
  }
  notice(`Resolved ${done} group(s)` + (failed ? `; ${failed} could not be (see each group).` : "."), failed > 0);
  btn.disabled = groupsLeft().length === 0;
});
