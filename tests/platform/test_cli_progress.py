"""The command line's progress bar: drawn on a terminal, never into a pipe or a --json run."""

from __future__ import annotations

import io
import sys

import pytest

from daguerre.platform.cli.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_a_terminal_gets_a_bar_with_count_and_label(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with Progress("photos", unit="img") as bar:
        bar(0, 4, "4 files, 4 to embed")
        bar(4, 4, "done")
    out = err.getvalue()
    assert "photos" in out and "4/4" in out and "img" in out
    assert "to embed" not in out  # messages are off unless asked for


@pytest.mark.parametrize(("stream", "quiet"), [(_Pipe, False), (_Terminal, True)])
def test_a_pipe_or_a_json_run_gets_nothing(monkeypatch: pytest.MonkeyPatch, stream: type,
                                           quiet: bool) -> None:
    err = stream()
    monkeypatch.setattr(sys, "stderr", err)
    with Progress("photos", quiet=quiet) as bar:
        bar(1, 2, "half")
        bar(2, 2, "done")
    assert err.getvalue() == ""


def test_a_total_learnt_late_and_the_message_are_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job reports its total only once it runs; the bar then counts against it."""
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with Progress("restore #7", messages=True) as bar:
        bar(0, 0, None)
        bar(3, 10, "denoising")
        assert bar.bar.total == 10 and bar.bar.n == 3
    out = err.getvalue()
    assert "3/10" in out and "denoising" in out
