"""Can this machine reach the model hub? Asked before any weights download.

huggingface_hub retries a failed request five times with back-off, for each file it tries: a
worker with no route to the hub spent about 45 s per job learning that CLIP's weights could not
be downloaded, before going on without them. One TCP connection (to the endpoint, or to the
HTTPS proxy that requests would use) answers the same question in milliseconds, or within
:data:`CONNECT_TIMEOUT` where packets are dropped. Answers are remembered for :data:`REMEMBER`
seconds, so a batch of jobs asks once.

Daguerre's own ``offline`` setting is passed in by the caller (from ``ctx.settings``); what is read
from the environment here is huggingface_hub's (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``) and the
proxies that requests would use, so the answer matches what a download would do.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from daguerre.indexer.models import ClipSpec

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT = 3.0
REMEMBER = 60.0

_answers: dict[tuple[str, int], tuple[float, str | None]] = {}
_lock = threading.Lock()


def hub_endpoint() -> str:
    """The hub's base URL, as huggingface_hub reads it (``HF_ENDPOINT``)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def offline_setting(offline: bool = False) -> str | None:
    """What turns downloads off: Daguerre's ``offline`` setting, or huggingface's variables."""
    if offline:
        return "the offline setting (DAGUERRE_OFFLINE, or offline = true in daguerre.toml)"
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return name
    return None


def _target(url: str) -> tuple[str, int, str]:
    """(host, port, what) that a request for ``url`` would connect to first."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or "", p.port or 8080, f"the proxy {p.hostname}:{p.port or 8080}"
    return host, port, f"{host}:{port}"


def unreachable(url: str | None = None, *, offline: bool = False,
                timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why a download from ``url`` (default: the hub) cannot start from here, or None;
    ``offline`` is the platform's setting (downloads turned off on purpose)."""
    setting = offline_setting(offline)
    if setting:
        return f"{setting} is set"
    host, port, what = _target(url or hub_endpoint())
    if not host:
        return f"{url!r} names no host"
    now = time.monotonic()
    with _lock:
        seen = _answers.get((host, port))
        if seen is not None and now - seen[0] < REMEMBER:
            return seen[1]
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        answer = None
    except OSError as exc:
        answer = f"{what} is unreachable from this machine ({exc.strerror or exc})"
    with _lock:
        _answers[(host, port)] = (now, answer)
    return answer


def forget() -> None:
    """Drop remembered answers (tests; or after the network came back)."""
    with _lock:
        _answers.clear()


def clip_download_blocker(spec: ClipSpec, *, offline: bool = False) -> str | None:
    """Why the CLIP weights of ``spec`` would have to be, and cannot be, downloaded now; None
    when they are here, are a local file (its own error), or the source is reachable."""
    from daguerre.indexer.models import weights_status

    status = weights_status(spec)
    if status["present"] or status["source"] not in ("hf-hub", "url"):
        return None
    return unreachable(status["location"] if status["source"] == "url" else None,
                       offline=offline)
