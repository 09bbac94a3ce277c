// The compare screen (/images/<id>/compare): an image (after) against the parent it was made
// from (before). Slider: the after image laid over the before one and cut at the slider's
// position (a labelled range input, so the arrow keys move it; dragging across the image does
// too). Side by side: the two next to each other. Both images are fitted to the same box, so
// images of different sizes line up, and one zoom state drives both (static/zoom.js).

import { $ } from "./api.js";
import { Zoom, bindZoomButtons } from "./zoom.js";

const stage = $("#compare-stage");
const afterPane = $("#compare-after");
const divider = $(".compare-divider");
const range = $("#compare-position");
const sliderButton = $("#compare-slider-mode");
const sideButton = $("#compare-side-mode");

const zoom = new Zoom([...stage.querySelectorAll(".zoom-viewport")], {
  reference: afterPane.querySelector(".zoom-target"),
  level: $(".zoom-level"),
});
bindZoomButtons($(".zoom-tools"), zoom);

const sliding = () => stage.classList.contains("slider");

// Show the before image left of `percent` and the after image right of it.
function setPosition(percent) {
  const p = Math.min(100, Math.max(0, Math.round(percent)));
  range.value = String(p);
  range.setAttribute("aria-valuetext", `${p}% before, ${100 - p}% after`);
  afterPane.style.clipPath = sliding() ? `inset(0 0 0 ${p}%)` : "none";
  divider.style.left = `${p}%`;
}

function setMode(slider) {
  stage.classList.toggle("slider", slider);
  stage.classList.toggle("side", !slider);
  sliderButton.setAttribute("aria-pressed", String(slider));
  sideButton.setAttribute("aria-pressed", String(!slider));
  range.disabled = !slider;
  setPosition(Number(range.value));
}

range.addEventListener("input", () => setPosition(Number(range.value)));
sliderButton.addEventListener("click", () => setMode(true));
sideButton.addEventListener("click", () => setMode(false));

// Dragging across the unzoomed image moves the cut (zoomed, a drag moves the image instead).
let dragging = false;
function follow(event) {
  const box = stage.getBoundingClientRect();
  setPosition(((event.clientX - box.left) / box.width) * 100);
}
stage.addEventListener("pointerdown", (event) => {
  if (!sliding() || zoom.zoomed || event.button !== 0) return;
  event.preventDefault();
  dragging = true;
  stage.setPointerCapture(event.pointerId);
  follow(event);
});
stage.addEventListener("pointermove", (event) => {
  if (dragging) follow(event);
});
const stop = () => { dragging = false; };
stage.addEventListener("pointerup", stop);
stage.addEventListener("pointercancel", stop);

setMode(true);
