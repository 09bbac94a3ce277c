// Endless scrolling over server-rendered pages, with a bounded DOM. Shared by every list screen
// (timeline, search, boards).
//
// The server's contract (which also works without scripts):
//
//   <div id="...">                                   the container given to initPager
//     <div class="page-chunk" data-url="/?after=…">  one per page of results, data-url = the URL
//       …cards, headings…                            that renders exactly this page again
//     </div>
//     <a class="pager-next" href="/?after=…">More</a>  the next page (absent on the last one)
//   </div>
//
// initPager(container, {onChunk}) loads the next page when the "More" link comes near the
// viewport (or is activated): it fetches the link's URL, appends every `.page-chunk` of the
// answer and puts the answer's own link (or none) in place of the old one. The server may answer
// a whole page or a fragment (it is sent `X-Pager: 1` and may render just the chunk and link).
//
// At most `maxChunks` chunks hold their content: a chunk far from the viewport is emptied and
// keeps its measured height (set through the CSSOM: the CSP forbids style attributes, not
// element.style), so the page neither jumps nor grows without bound; scrolling back near it
// fetches its data-url again and fills it. A chunk holding the focus is never emptied.
// `onChunk(chunk)` is called after a chunk is inserted or refilled (a grid whose handlers are
// delegated needs nothing; one that paints state such as the selection may repaint).

// Half a viewport above and below counts as "near": kept, or refilled. A near chunk is never
// emptied, so on a screen taller than maxChunks pages, every page on it stays.
const NEAR = 0.5;

function near(el) {
  const r = el.getBoundingClientRect();
  const h = window.innerHeight || document.documentElement.clientHeight;
  return r.bottom > -NEAR * h && r.top < (1 + NEAR) * h;
}

// How far an element is from the viewport, in pixels (0 when it is on screen).
function distance(el) {
  const r = el.getBoundingClientRect();
  const h = window.innerHeight || document.documentElement.clientHeight;
  if (r.bottom < 0) return -r.bottom;
  if (r.top > h) return r.top - h;
  return 0;
}

async function fetchPage(url) {
  const resp = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "text/html", "X-Pager": "1" },
  });
  if (resp.status === 401) {
    window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
  }
  if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
  return new DOMParser().parseFromString(await resp.text(), "text/html");
}

export function initPager(container, { onChunk = () => {}, maxChunks = 5 } = {}) {
  let link = container.querySelector("a.pager-next");
  let loading = false;
  const refilling = new Set();

  const chunks = () => [...container.querySelectorAll(".page-chunk")];
  const isEmptied = (chunk) => chunk.dataset.emptied === "true";

  function empty(chunk) {
    chunk.style.height = `${chunk.getBoundingClientRect().height}px`;
    chunk.replaceChildren();
    chunk.dataset.emptied = "true";
  }

  // Keep at most maxChunks chunks populated: empty the ones farthest from the viewport (never
  // one that is near it or holds the focus).
  function trim() {
    const full = chunks().filter((c) => !isEmptied(c));
    if (full.length <= maxChunks) return;
    const candidates = full
      .filter((c) => !near(c) && !c.contains(document.activeElement))
      .sort((a, b) => distance(b) - distance(a));
    let over = full.length - maxChunks;
    for (const chunk of candidates) {
      if (over <= 0) break;
      empty(chunk);
      over -= 1;
    }
  }

  async function refill(chunk) {
    if (refilling.has(chunk)) return;
    refilling.add(chunk);
    try {
      const doc = await fetchPage(chunk.dataset.url);
      const fresh = doc.querySelector(".page-chunk");
      if (fresh && chunk.isConnected) {
        chunk.replaceChildren(...fresh.childNodes);
        chunk.style.height = "";
        delete chunk.dataset.emptied;
        onChunk(chunk);
      }
    } catch {
      // Left empty at its height: the next scroll near it tries again.
    } finally {
      refilling.delete(chunk);
    }
    trim();
  }

  function refillNear() {
    for (const chunk of chunks()) {
      if (isEmptied(chunk) && near(chunk)) refill(chunk);
    }
  }

  const watcher = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadNext();
  }, { rootMargin: "0px 0px 100% 0px" });

  function watch(a) {
    link = a;
    if (!a) return;
    a.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      loadNext();
    });
    watcher.observe(a);
  }

  async function loadNext() {
    if (loading || !link) return;
    loading = true;
    const current = link;
    current.setAttribute("aria-busy", "true");
    try {
      const doc = await fetchPage(current.href);
      const added = [...doc.querySelectorAll(".page-chunk")].map((c) => document.adoptNode(c));
      const next = doc.querySelector("a.pager-next");
      const last = chunks().at(-1);
      if (last) last.after(...added);
      else current.before(...added);
      watcher.unobserve(current);
      if (next) {
        const adopted = document.adoptNode(next);
        current.replaceWith(adopted);
        watch(adopted);
      } else {
        current.remove();
        link = null;
      }
      for (const chunk of added) onChunk(chunk);
      trim();
    } catch (err) {
      current.removeAttribute("aria-busy");
      current.textContent = `More (loading failed: ${err.message}; try again)`;
      watcher.unobserve(current); // no retry loop; activating the link tries again
      return;
    } finally {
      loading = false;
    }
    // The new link may already be in view (short pages, tall screens): IntersectionObserver
    // reports it on observe, which calls loadNext again.
  }

  let queued = false;
  window.addEventListener("scroll", () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      trim();
      refillNear();
    });
  }, { passive: true });

  watch(link);
  return { loadNext, chunks, trim };
}
