"""hub.unreachable: the quick answer to "could a download start from here?"."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from daguerre.platform import hub
from tests.conftest import closed_port


@pytest.fixture(autouse=True)
def online(monkeypatch) -> Iterator[None]:
    """No offline switch and no proxy, unless a test sets one; no remembered answers."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DAGUERRE_OFFLINE", "HF_ENDPOINT",
                 "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    hub.forget()
    yield
    hub.forget()


@pytest.fixture()
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_refused_endpoint_is_named_at_once_and_remembered(listener):
    port = closed_port()
    started = time.monotonic()
    why = hub.unreachable(f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 1.0
    assert why is not None and f"127.0.0.1:{port} is unreachable" in why and "refused" in why
    # Remembered: a batch of jobs asks once (nothing listens there anyway).
    assert hub.unreachable(f"http://127.0.0.1:{port}/other/path") == why
    assert hub.unreachable(f"http://127.0.0.1:{listener}") is None


def test_the_configured_endpoint_is_the_default(monkeypatch, listener):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listener}/")
    assert hub.unreachable() is None
    hub.forget()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert "is unreachable" in hub.unreachable()


def test_an_offline_switch_answers_without_connecting(monkeypatch, listener):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.unreachable(f"http://127.0.0.1:{listener}") == "HF_HUB_OFFLINE is set"


def test_the_offline_setting_is_passed_in_not_read_from_the_environment(monkeypatch, listener):
    """Daguerre's offline setting comes from the settings (a TOML file may set it)."""
    assert "offline setting" in hub.unreachable(f"http://127.0.0.1:{listener}", offline=True)
    monkeypatch.setenv("DAGUERRE_OFFLINE", "1")  # read by load_settings, not here
    assert hub.unreachable(f"http://127.0.0.1:{listener}") is None


def test_behind_a_proxy_the_proxy_is_what_must_answer(monkeypatch, listener):
    """Where requests go through an HTTPS proxy, the hub's own name need not resolve here."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listener}")
    assert hub.unreachable("https://hub.invalid") is None
    hub.forget()
    dead = closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead}")
    assert f"the proxy 127.0.0.1:{dead} is unreachable" in hub.unreachable("https://hub.invalid")
    hub.forget()
    monkeypatch.setenv("NO_PROXY", "hub.invalid")  # bypassed: straight to a name that fails
    assert "hub.invalid:443 is unreachable" in hub.unreachable("https://hub.invalid")
