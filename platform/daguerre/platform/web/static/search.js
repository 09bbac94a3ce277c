// The search screen: the shared photo grid over the results (selection, keys, bulk actions; `/`
// focuses the search box), the next page loaded as the person scrolls (static/pager.js, when the
// server says it is there; the "More results" link works without it), and the example-image
// drop zone (static/search-drop.js).

import { initDrop } from "./search-drop.js";
import { initGrid } from "./grid.js";

const main = document.querySelector("main.search-screen");
const results = document.querySelector("#search-results");

initDrop(document.querySelector("#search-image-form"), {
  maxBytes: Number(main.dataset.maxUpload) || 0,
});

// The grid's root is the results container: every page's cards take part (handlers are
// delegated), including pages the pager appends later. With no results it still gives the page
// its keys (`/` to the search box, `?` for the keys).
initGrid(results ?? main, { label: `Search: ${document.title.split(" · ")[0]}`,
                            canCurate: main.dataset.canCurate === "true" });
if (results) {
  import("./pager.js").then(({ initPager }) => initPager(results)).catch(() => {});
}
