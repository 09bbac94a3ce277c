"""The compose file and images: every variable it gives Daguerre is a setting Daguerre reads,
and the production topology has what docs/deploy.md promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from daguerre.platform.config import ENV_KEYS

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _daguerre_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def _env_names(service: dict) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.split("=", 1)[0] for item in env}
    return set(env)


def test_every_variable_set_for_daguerre_is_a_setting(compose):
    services = _daguerre_services(compose)
    assert set(services) == {"web", "worker"}
    for name, svc in services.items():
        names = _env_names(svc)
        assert names, f"{name} sets no environment"
        unknown = sorted(names - ENV_KEYS)
        assert not unknown, f"{name} sets variables the configuration never reads: {unknown}"
    # Substitutions named like settings must be settings too (no look-alike that does nothing).
    text = (DOCKER / "compose.yaml").read_text()
    lookalikes = set(re.findall(r"\$\{(DAGUERRE_[A-Z_]+)", text)) - ENV_KEYS
    assert not lookalikes


def test_production_topology(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    web, worker = services["web"], services["worker"]
    assert web["build"]["dockerfile"] == "docker/Dockerfile.web"
    assert worker["build"]["dockerfile"] == "docker/Dockerfile.worker"
    assert web["environment"]["DAGUERRE_DATABASE_URL"].startswith("postgresql://")
    assert worker["environment"]["DAGUERRE_BROKER_URL"].startswith("redis://")
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    for svc in (web, worker):
        mounts = svc["volumes"]
        assert "data:/data" in mounts and svc["environment"]["DAGUERRE_HOME"] == "/data"
        libraries = [m for m in mounts if m.split(":")[-2:] == ["/libraries", "ro"]]
        assert libraries, "libraries must be mounted read-only"
    assert all(p.startswith("127.0.0.1:") for p in web["ports"])  # loopback unless proxied
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert worker["depends_on"]["web"]["condition"] == "service_healthy"


def test_images_build_from_a_cuda_base_and_run_the_cli():
    worker = (DOCKER / "Dockerfile.worker").read_text()
    web = (DOCKER / "Dockerfile.web").read_text()
    assert re.search(r"^FROM nvidia/cuda:\S+", worker, re.M)
    assert "whl/cpu" in web and "whl/cu" in worker
    assert 'CMD ["daguerre", "worker"' in worker and 'CMD ["daguerre", "web"' in web
    for text in (web, worker):
        assert "USER daguerre" in text and "HEALTHCHECK" in text


def test_worker_health_check_follows_the_alive_file(tmp_path):
    alive = tmp_path / "alive"
    check = [sys.executable, str(DOCKER / "healthcheck.py"), "worker", str(alive)]
    assert subprocess.run(check).returncode == 1  # never touched: unhealthy
    alive.touch()
    assert subprocess.run(check).returncode == 0
