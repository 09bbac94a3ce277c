"""The API's search endpoint under concurrent load on loopback, with 100k indexed vectors.

What it builds (in a temporary data directory, deleted afterwards):

* the tiny test CLIP (``tests/support/tiny_clip.py``: 32-d embeddings, random weights) as the
  configured model, so text queries go through the real text encoder;
* 100,000 catalog rows (``images``, one library) inserted in bulk, and 100,000 synthetic 32-d
  vectors stored directly in that model's vector store under the same ids. The vectors have the
  structure of real embeddings rather than uniform noise: a mixture of 200 Gaussian clusters in
  8 dimensions mapped linearly into 32, plus small isotropic noise, L2-normalised. At this size the
  store picks its IVF tier by itself, as it would for a user's library.

Then ``waitress`` serves ``create_app()`` in a separate process on 127.0.0.1 (a free port), and N
client threads (``http.client``, keep-alive, loopback only) send requests for a fixed time:
``GET /api/v1/search/similar/<random id>`` (search by image id) and ``GET /api/v1/search?q=...``
over a small set of repeated phrases (the text path; repeated so a text-embedding cache, where
there is one, is warm). Reported: requests, requests/s, p50/p95/p99 latency, errors.

Run: ``.venv/bin/python benchmarks/api_search_load.py [--vectors 100000] [--clients 8]
[--seconds 15]``. Nothing leaves the machine: every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHRASES = ["a red circle", "a beach at sunset", "a dog in the snow", "a blue square",
           "portrait of a woman", "city street at night", "green trees", "a bowl of fruit"]


def synthetic_embeddings(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors with low intrinsic dimension (see the module docstring)."""
    rng = np.random.default_rng(seed)
    latent_dim, clusters = min(8, dim), 200
    centres = rng.normal(0, 1, (clusters, latent_dim))
    labels = rng.integers(0, clusters, n)
    latent = centres[labels] + rng.normal(0, 0.35, (n, latent_dim))
    mix = rng.normal(0, 1, (latent_dim, dim))
    x = latent @ mix + rng.normal(0, 0.05, (n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def build(home: Path, n: int) -> dict[str, str]:
    """Model, catalog rows and vectors in ``home``; returns the environment for the server."""
    sys.path.insert(0, str(REPO))
    from tests.support.tiny_clip import write_tiny_clip

    cfg, weights = write_tiny_clip(home.parent / "tiny-clip")
    env = {"DAGUERRE_HOME": str(home), "DAGUERRE_CLIP_MODEL": str(cfg),
           "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu"}
    from sqlalchemy import insert

    from daguerre.platform.catalog.models import Image, ImageEmbedding, Library
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.users import create_user
    from daguerre.platform.tokens import create_token

    ctx = Context(load_settings(env=env))
    encoder = ctx.encoder()
    root = home.parent / "library"
    root.mkdir()
    t0 = time.perf_counter()
    with ctx.catalog.session() as s:
        lib = Library(name="synthetic", root=str(root))
        s.add(lib)
        s.flush()
        lib_id = lib.id
        rows = [{"id": i, "library_id": lib_id, "path": f"{i // 1000:03d}/{i:06d}.jpg",
                 "sha256": f"{i:064x}", "size": 100_000, "mtime": 0.0, "width": 640,
                 "height": 480, "format": "JPEG"} for i in range(1, n + 1)]
        for start in range(0, n, 20_000):
            s.execute(insert(Image), rows[start:start + 20_000])
        s.execute(insert(ImageEmbedding), [{"image_id": r["id"], "model_key": encoder.key,
                                            "sha256": r["sha256"]} for r in rows])
    t_rows = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = ctx.store(encoder)
    with store.edit() as st:
        st.upsert(np.arange(1, n + 1, dtype=np.int64), synthetic_embeddings(n, encoder.dim))
    t_vec = time.perf_counter() - t0
    create_user(ctx, "bench", "viewer", "benchmark-password")  # searching needs a viewer
    _info, token = create_token(ctx, "benchmark", "bench")
    print(f"built {n} rows in {t_rows:.1f} s, {n} vectors (dim {encoder.dim}, "
          f"{store.index_type}) in {t_vec:.1f} s", file=sys.stderr)
    ctx.close()
    env["BENCH_TOKEN"] = token
    return env


SERVER = """
import logging, sys
from waitress.server import create_server
# With as many clients as threads, waitress logs every queued request: not news here.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
from daguerre.platform.web import create_app
server = create_server(create_app(), host="127.0.0.1", port=0, threads=int(sys.argv[1]))
print(server.effective_port, flush=True)
server.run()
"""


def start_server(env: dict[str, str], threads: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(threads)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError("the server did not start")
    return proc, int(line)


def load(port: int, token: str, make_path, clients: int, seconds: float) -> dict[str, float]:  # noqa: ANN001
    """``clients`` threads, each with one keep-alive connection, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def worker(k: int) -> None:
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            path = make_path(rng)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200 and json.loads(body)["items"]
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies[k].append(time.perf_counter() - t0)
            if not ok:
                errors[k] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = np.array([x for xs in latencies for x in xs]) * 1000
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)), "p99": float(np.percentile(lat, 99)),
            "errors": sum(errors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    parser.add_argument("--seconds", type=float, default=15.0, help="per scenario")
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 64 and 1 <= args.seconds <= 120 and args.vectors >= 100):
        parser.error("clients 1..64, seconds 1..120, vectors >= 100")

    work = Path(tempfile.mkdtemp(prefix="daguerre-api-bench-"))
    proc = None
    try:
        env = build(work / "home", args.vectors)
        proc, port = start_server(env, args.threads)
        token = env["BENCH_TOKEN"]
        n = args.vectors
        scenarios = {
            "search by image id": lambda rng: f"/api/v1/search/similar/{rng.randint(1, n)}?limit=20",
            "search by text": lambda rng: f"/api/v1/search?q={quote(rng.choice(PHRASES))}&limit=20",
        }
        rows = []
        for name, make_path in scenarios.items():
            load(port, token, make_path, 2, 2.0)  # warm-up: model loaded, caches filled
            rows.append((name, load(port, token, make_path, args.clients, args.seconds)))
        print(f"\nAPI search under load: {n} vectors, {args.clients} clients, "
              f"{args.threads} server threads, {args.seconds:.0f} s per scenario, loopback")
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}\n")
        print("| scenario | requests | requests/s | p50 ms | p95 ms | p99 ms | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, r in rows:
            print(f"| {name} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | "
                  f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']} |")
        return 0 if all(r["errors"] == 0 for _, r in rows) else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
