// Paint a mask over an image: one component, used by the Create screen's inpaint and restore
// forms. Strokes are kept in the input image's own pixels, so the exported mask is exactly the
// input's size whatever size the picture is shown at: a grayscale PNG, white where the image is
// to be repainted (or restored), black elsewhere, as the API's `mask` expects. Pointer events, so
// a mouse, a pen and a finger all paint; brush size, paint or erase, undo the last stroke, clear.
//
// Usage: const painter = new MaskPainter(rootElement);
//        painter.setImage(url, width, height);  painter.isEmpty();  await painter.toBlob();

const SHOWN_MAX = 1024; // the on-screen canvas's longest side, in canvas pixels

export class MaskPainter {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector(".mask-canvas");
    this.image = root.querySelector(".mask-image");
    this.emptyNote = root.querySelector(".mask-empty");
    this.brush = root.querySelector("#mask-brush");
    this.strokes = []; // {erase, radius, points: [[x, y], ...]} in the input's pixels
    this.size = null; // [width, height] of the input image
    this.current = null;
    this.listeners = new Set();
    this.bind();
  }

  // Show `url` (the input, at any size) and start an empty mask of width x height pixels.
  setImage(url, width, height) {
    this.size = [width, height];
    this.strokes = [];
    const scale = Math.min(1, SHOWN_MAX / Math.max(width, height));
    this.canvas.width = Math.max(1, Math.round(width * scale));
    this.canvas.height = Math.max(1, Math.round(height * scale));
    this.canvas.style.aspectRatio = `${width} / ${height}`;
    this.image.style.aspectRatio = `${width} / ${height}`;
    this.image.src = url;
    this.image.hidden = false;
    this.canvas.hidden = false;
    this.emptyNote.hidden = true;
    this.render();
  }

  // No input image: nothing to paint on.
  unset(message) {
    this.size = null;
    this.strokes = [];
    this.image.hidden = true;
    this.canvas.hidden = true;
    this.emptyNote.textContent = message;
    this.emptyNote.hidden = false;
    this.changed();
  }

  isEmpty() {
    return !this.size || !this.strokes.some((s) => !s.erase);
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  changed() {
    for (const fn of this.listeners) fn(this);
  }

  undo() {
    this.strokes.pop();
    this.render();
  }

  clear() {
    this.strokes = [];
    this.render();
  }

  erasing() {
    return this.root.querySelector("input[name=mask-mode]:checked")?.value === "erase";
  }

  // The pointer's place in the input image's pixels.
  at(event) {
    const box = this.canvas.getBoundingClientRect();
    const [w, h] = this.size;
    return [(event.clientX - box.left) * (w / box.width), (event.clientY - box.top) * (h / box.height)];
  }

  bind() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (event) => {
      if (!this.size || event.button > 0) return;
      event.preventDefault();
      c.setPointerCapture(event.pointerId);
      // The brush's size is in on-screen pixels: the same on a phone as on a wide screen.
      const perShown = this.size[0] / c.getBoundingClientRect().width;
      this.current = { erase: this.erasing(), radius: (Number(this.brush.value) / 2) * perShown,
                       points: [this.at(event)] };
      this.strokes.push(this.current);
      this.render();
    });
    c.addEventListener("pointermove", (event) => {
      if (!this.current) return;
      for (const e of event.getCoalescedEvents?.() ?? [event]) this.current.points.push(this.at(e));
      this.render();
    });
    const end = () => {
      if (!this.current) return;
      this.current = null;
      this.changed();
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    this.root.querySelector(".mask-undo").addEventListener("click", () => { this.undo(); this.changed(); });
    this.root.querySelector(".mask-clear").addEventListener("click", () => { this.clear(); this.changed(); });
  }

  // Draw every stroke onto a 2D context whose pixels are `scale` times the input's.
  static draw(ctx, strokes, scale, paint, erase) {
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of strokes) {
      ctx.globalCompositeOperation = s.erase && erase === null ? "destination-out" : "source-over";
      ctx.strokeStyle = s.erase ? (erase ?? "#000") : paint;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.lineWidth = 2 * s.radius * scale;
      const [x0, y0] = s.points[0];
      ctx.beginPath();
      ctx.arc(x0 * scale, y0 * scale, s.radius * scale, 0, 2 * Math.PI);
      ctx.fill();
      ctx.beginPath();
      ctx.moveTo(x0 * scale, y0 * scale);
      for (const [x, y] of s.points.slice(1)) ctx.lineTo(x * scale, y * scale);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = "source-over";
  }

  // The on-screen overlay: painted parts in an opaque colour, shown translucent by the CSS.
  render() {
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.size) return;
    MaskPainter.draw(ctx, this.strokes, this.canvas.width / this.size[0], "#ff2a6d", null);
  }

  // The mask as a PNG of the input's size: white = repaint, black = keep.
  toBlob() {
    const [w, h] = this.size;
    const out = document.createElement("canvas");
    out.width = w;
    out.height = h;
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, w, h);
    MaskPainter.draw(ctx, this.strokes, 1, "#fff", "#000");
    return new Promise((resolve, reject) => {
      out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the mask could not be drawn"))), "image/png");
    });
  }
}
