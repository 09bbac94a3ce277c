// Search by an example image: a file dropped anywhere on the page (the drop zone lights up), an
// image pasted (Ctrl/⌘+V outside a text field, or anywhere when the clipboard holds a file) or
// one chosen with the file input. Every way ends the same: the file is put into the form's file
// input and the form is submitted as a plain multipart POST to /search/image, which stores the
// example and redirects to /search?image=<sha256> (a bookmarkable result). Files that are not
// images or are over the upload limit are refused here at once, and by the server all the same.

import { notice } from "./api.js";

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

export function initDrop(form, { maxBytes = 0 } = {}) {
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const go = form.querySelector("button[type=submit]");

  function refusal(file) {
    if (file.type && !file.type.startsWith("image/")) {
      return `${file.name || "That file"} is not an image (${file.type}).`;
    }
    if (maxBytes && file.size > maxBytes) {
      return `${file.name || "That image"} is ${mib(file.size)}: the limit is ${mib(maxBytes)}.`;
    }
    if (file.size === 0) return `${file.name || "That file"} is empty.`;
    return null;
  }

  function submit(file) {
    const why = refusal(file);
    if (why) {
      notice(why, true);
      input.value = "";
      return;
    }
    if (input.files[0] !== file) {
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
    }
    notice(`Searching by ${file.name || "the pasted image"}…`);
    form.classList.add("busy");
    go.disabled = true;
    form.submit();
  }

  // Choosing a file searches at once; the button stays for keyboard users who prefer it.
  input.addEventListener("change", () => {
    if (input.files.length) submit(input.files[0]);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files.length) submit(input.files[0]);
    else notice("Choose an image file first.", true);
  });

  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
  let depth = 0; // dragenter/dragleave pairs, so the highlight survives moving over children
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    form.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) form.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault(); // allow the drop
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return; // a dragged card (the grid's ids) is someone else's drop
    event.preventDefault();
    depth = 0;
    form.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) submit(file);
  });

  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])][0];
    if (!file) return; // text pasted into the search box stays text
    event.preventDefault();
    submit(file);
  });
}
