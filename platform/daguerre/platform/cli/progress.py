"""The command line's one progress bar: a tqdm bar (count, rate, ETA) on stderr when stderr is a
terminal, silent otherwise, so a pipe or a ``--json`` run never gets bar characters mixed into
its output.

A :class:`Progress` is called as the services' progress function, ``(done, total, message)``,
and closed when the work ends (``with Progress(...) as bar:``).
"""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """A tqdm bar labelled ``label``; ``quiet`` (a ``--json`` run) silences it too.

    ``messages`` shows each new progress message after the count (the generation commands'
    step names); indexing passes one message per file, too many to redraw for each.
    ``leave`` keeps the finished bar on screen.
    """

    def __init__(self, label: str, *, quiet: bool = False, unit: str = "it",
                 messages: bool = False, leave: bool = True) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.label, self.unit, self.messages, self.leave = label, unit, messages, leave
        self.bar: Any = None  # a tqdm, made on the first call (tqdm is imported only then)

    def __call__(self, done: int, total: int | None, message: str | None = None) -> None:
        if not self.enabled:
            return
        total = total or 0
        # A total learnt late (a job that reports it once it starts) or changed (a next phase)
        # starts a fresh bar: tqdm's rate and ETA would be wrong for the new total.
        if self.bar is None or (total and self.bar.total != total):
            from tqdm import tqdm

            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total or None, desc=self.label, unit=self.unit,
                            file=sys.stderr, dynamic_ncols=True, leave=self.leave)
        self.bar.update(max(0, (done or 0) - self.bar.n))
        if self.messages and message:
            self.bar.set_postfix_str(message[:60], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
