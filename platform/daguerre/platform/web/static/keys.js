// The dashboard's keys, Lightroom's conventions, shared by every screen with cards: a key maps to
// an action on the focused card (the card holding focus, or one of its buttons), or else on the
// card marked selected. ArrowLeft/ArrowRight move focus between cards unless a screen overrides
// them. Keys typed into a field, or with Ctrl/Cmd/Alt held (the browser's own shortcuts), are
// left alone, so a form on the same page keeps working.

const TYPING = "input, textarea, select, [contenteditable=''], [contenteditable='true']";

// The card an action applies to: the focused one, else the selected one, else none.
export function currentCard(root, cardSelector) {
  const focused = document.activeElement?.closest?.(cardSelector);
  if (focused && root.contains(focused)) return focused;
  return root.querySelector(`${cardSelector}.selected`) ?? null;
}

// Move focus `step` cards along (-1 back, 1 on) from the current card; the first card when none.
export function moveFocus(root, cardSelector, step) {
  const cards = [...root.querySelectorAll(cardSelector)];
  if (!cards.length) return null;
  const at = cards.indexOf(currentCard(root, cardSelector));
  const next = at < 0 ? cards[0] : cards[Math.min(cards.length - 1, Math.max(0, at + step))];
  next.focus();
  return next;
}

// Call `actions[key](card, event)` for each key pressed; `card` may be null (for keys such as
// "?" that need none; an action that needs one returns early). Returns a function that unbinds.
export function bindCardKeys(root, cardSelector, actions) {
  const all = {
    ArrowLeft: () => moveFocus(root, cardSelector, -1),
    ArrowRight: () => moveFocus(root, cardSelector, 1),
    ...actions,
  };
  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.target.closest?.(TYPING) || document.querySelector("dialog[open]")) return;
    // Letters in either case: P and p both pick, as in Lightroom.
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const action = all[key];
    if (!action) return;
    // Enter on a button or link outside the cards is that control's own (a toolbar, a form).
    if (key === "Enter" && event.target.closest?.("button, a, summary")
        && !event.target.closest(cardSelector)) return;
    event.preventDefault();
    action(currentCard(root, cardSelector), event);
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
