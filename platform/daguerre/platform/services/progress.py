"""How a long service call reports progress and learns it should stop.

A service that works through many items takes ``progress(done, total, message)`` and
``should_cancel()``; the CLI passes its progress bar (``cli/progress.py``), a job passes its
handle's methods (``jobs/runner.JobHandle``), so one function serves both.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]
