// Zoom and pan for the image screen and the compare screen: fit, 100%, + / −, the wheel (about
// the pointer), drag to move around a zoomed image. One state drives every viewport given, so
// the two images of a comparison stay in step whichever one the person handles.
//
// Each viewport holds its images (`.zoom-target`) fitted by CSS (object-fit: contain, the full
// box); the state is a scale (1 = fitted) and a translation in fractions of the box, applied as
// a CSS transform from here (the CSP allows the CSSOM), so it does not depend on the box's size
// in pixels and survives a resize or a switch of layout.

const MAX_SCALE = 16;
const STEP = 1.5;

export class Zoom {
  // viewports: elements holding `.zoom-target` images; reference: the image whose natural size
  // is "100%"; level: an element that says the zoom in words; onChange(zoom) after each change.
  constructor(viewports, { reference, level, onChange } = {}) {
    this.viewports = viewports;
    this.reference = reference ?? viewports[0].querySelector(".zoom-target");
    this.level = level;
    this.onChange = onChange ?? (() => {});
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    for (const vp of viewports) this.#bind(vp);
  }

  // The scale at which one image pixel is one screen pixel (what "100%" means), from the
  // reference image as fitted into its box.
  actualScale() {
    const img = this.reference;
    const box = img.getBoundingClientRect();
    const w = box.width / this.scale;
    const h = box.height / this.scale;
    if (!img.naturalWidth || !w || !h) return 1;
    const fitted = Math.min(w / img.naturalWidth, h / img.naturalHeight);
    return 1 / fitted;
  }

  get zoomed() {
    return this.scale > 1.001;
  }

  fit() {
    this.#set(1, 0, 0);
  }

  actual() {
    this.zoomTo(this.actualScale());
  }

  // Zoom by `factor` about the point (u, v) of the box, in fractions (the centre by default).
  zoomBy(factor, u = 0.5, v = 0.5) {
    this.zoomTo(this.scale * factor, u, v);
  }

  zoomTo(scale, u = 0.5, v = 0.5) {
    const min = Math.min(1, this.actualScale());
    const next = Math.min(MAX_SCALE, Math.max(min, scale));
    const ratio = next / this.scale;
    this.#set(next, u - (u - this.x) * ratio, v - (v - this.y) * ratio);
  }

  // Move by (du, dv) fractions of the box.
  panBy(du, dv) {
    this.#set(this.scale, this.x + du, this.y + dv);
  }

  // Keep the image over the box: no empty margin when zoomed in, centred when smaller.
  #clamp(s, t) {
    return s >= 1 ? Math.min(0, Math.max(1 - s, t)) : (1 - s) / 2;
  }

  #set(scale, x, y) {
    this.scale = scale;
    this.x = this.#clamp(scale, x);
    this.y = this.#clamp(scale, y);
    const transform = `translate(${this.x * 100}%, ${this.y * 100}%) scale(${this.scale})`;
    for (const vp of this.viewports) {
      vp.classList.toggle("zoomed", this.zoomed);
      for (const img of vp.querySelectorAll(".zoom-target")) img.style.transform = transform;
    }
    if (this.level) {
      this.level.textContent = this.scale === 1 ? "Fit"
        : `${Math.round((this.scale / this.actualScale()) * 100)}%`;
    }
    this.onChange(this);
  }

  #bind(vp) {
    vp.addEventListener("wheel", (event) => {
      event.preventDefault();
      const box = vp.getBoundingClientRect();
      const factor = Math.exp(-event.deltaY * 0.0015);
      this.zoomBy(factor, (event.clientX - box.left) / box.width,
        (event.clientY - box.top) / box.height);
    }, { passive: false });
    // Drag pans a zoomed image; unzoomed, the pointer is left to the screen (the compare
    // slider takes it).
    let from = null;
    vp.addEventListener("pointerdown", (event) => {
      if (!this.zoomed || event.button !== 0) return;
      event.preventDefault();
      from = { x: event.clientX, y: event.clientY };
      vp.setPointerCapture(event.pointerId);
      vp.classList.add("dragging");
    });
    vp.addEventListener("pointermove", (event) => {
      if (!from) return;
      const box = vp.getBoundingClientRect();
      this.panBy((event.clientX - from.x) / box.width, (event.clientY - from.y) / box.height);
      from = { x: event.clientX, y: event.clientY };
    });
    const stop = () => {
      from = null;
      vp.classList.remove("dragging");
    };
    vp.addEventListener("pointerup", stop);
    vp.addEventListener("pointercancel", stop);
  }
}

// Wire a group of buttons (`[data-zoom=fit|actual|in|out]`) to a Zoom.
export function bindZoomButtons(group, zoom) {
  group.addEventListener("click", (event) => {
    const which = event.target.closest("button[data-zoom]")?.dataset.zoom;
    if (which === "fit") zoom.fit();
    else if (which === "actual") zoom.actual();
    else if (which === "in") zoom.zoomBy(STEP);
    else if (which === "out") zoom.zoomBy(1 / STEP);
  });
}
