// The timeline screen: the shared grid (selection, keys, bulk actions: grid.js) over every page
// loaded so far, and the pager (pager.js) that loads the next page as the person scrolls and
// empties pages far from the viewport. Jumping to a date and the filters are plain GET forms
// (their values live in the URL), so they need no script.

import { initGrid } from "./grid.js";
import { initPager } from "./pager.js";

const main = document.querySelector("main.timeline-screen");
const timeline = document.querySelector("#timeline");
const grid = initGrid(timeline, { label: "Timeline", canCurate: main.dataset.canCurate === "true" });
// A page refilled after being emptied shows the selection it had (grid.js keeps it by id).
initPager(timeline, { onChunk: () => grid.repaint() });
