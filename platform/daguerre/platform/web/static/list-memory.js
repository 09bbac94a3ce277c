// The list an image was opened from, so the image screen can walk it with ← / → and go back to
// it. A grid (timeline, search, boards) calls rememberList() as a person opens one of its cards;
// the image screen calls readList(). Kept in sessionStorage under one key, as JSON
// {"ids": [int, ...], "label": "Timeline", "href": "/?…"}: per tab, gone when the tab closes.

export const LIST_KEY = "daguerre.list";

// Remember the ids of the cards loaded (in order), what the list is called and its URL.
export function rememberList(ids, label, href) {
  const clean = ids.map(Number).filter((i) => Number.isInteger(i) && i >= 0);
  try {
    sessionStorage.setItem(LIST_KEY, JSON.stringify({ ids: clean, label: String(label), href: String(href) }));
  } catch { /* storage full or refused: the image screen just has no list to walk */ }
}

// The remembered list, or null when there is none or what is stored is not one. `href` is only
// kept when it is a path on this site, so a stored value cannot send a person elsewhere.
export function readList() {
  let data;
  try {
    data = JSON.parse(sessionStorage.getItem(LIST_KEY) ?? "null");
  } catch {
    return null;
  }
  if (!data || !Array.isArray(data.ids)) return null;
  const ids = data.ids.filter((i) => Number.isInteger(i) && i >= 0);
  const href = typeof data.href === "string" && data.href.startsWith("/") && !data.href.startsWith("//")
    ? data.href : "/";
  const label = typeof data.label === "string" && data.label.trim() ? data.label.trim() : "the list";
  return { ids, label, href };
}

// Where `id` sits in the remembered list: {list, index, prev, next} (prev/next null at the
// ends), or null when there is no list or `id` is not in it.
export function neighbours(id) {
  const list = readList();
  const index = list ? list.ids.indexOf(Number(id)) : -1;
  if (index < 0) return null;
  return {
    list, index,
    prev: index > 0 ? list.ids[index - 1] : null,
    next: index < list.ids.length - 1 ? list.ids[index + 1] : null,
  };
}
