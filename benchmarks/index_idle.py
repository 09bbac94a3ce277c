"""Nothing to index: what `daguerre index` costs on a library where nothing changed.

Builds a library of small JPEGs (10,000 by default; each a different picture), catalogs it once
with a real ``index_library`` run using the tiny test CLIP (``tests/support/tiny_clip.py``), then
measures, on the unchanged library:

- ``index_library`` in this process (imports already paid), fresh ``Context`` each run, median
  of several runs, with the scan alone timed apart;
- the whole ``daguerre index --json`` CLI in a new process (interpreter start, imports, catalog,
  scan, plan), median of several runs, and whether that process imported torch or started any
  decode process (it must do neither);
- for contrast, a run after every file was touched (new mtime, same bytes): each file is then
  hashed to confirm its content, still without the model.

Usage: python benchmarks/index_idle.py [--files 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Run the CLI as a user does, and report at exit whether the model runtime was imported and how
# many child processes (decode workers) were started.
CLI_PROBE = """
import atexit, json, sys
from multiprocessing.process import BaseProcess
started = []
real_start = BaseProcess.start
def start(self):
    started.append(self)
    return real_start(self)
BaseProcess.start = start
atexit.register(lambda: print(json.dumps({"torch_imported": "torch" in sys.modules,
                                          "children": len(started)}), file=sys.stderr))
from daguerre.platform.cli import main
sys.argv = ["daguerre", "index", "--json"]
main()
"""


def write_library(root: Path, count: int, seed: int = 0) -> None:
    """``count`` distinct 64x48 JPEGs, 500 to a folder (as cameras and phones split them)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = root / f"{i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 48), Image.Resampling.BILINEAR).save(
            folder / f"img{i:05d}.jpg", quality=85)


def timed_index(settings_env: dict[str, str]) -> tuple[float, dict]:
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.indexing import index_library

    ctx = Context(load_settings(env=settings_env))
    try:
        t0 = time.perf_counter()
        summary = index_library(ctx, "bench")
        wall = time.perf_counter() - t0
        loaded = ctx._encoder is not None  # noqa: SLF001 - did this run load the model?
    finally:
        ctx.close()
    return wall, {**summary.as_dict(), "model_loaded": loaded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    sys.path.insert(0, str(REPO))
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from daguerre.platform.services.indexing import index_library, scan_library
    from daguerre.platform.services.libraries import add_library
    from tests.support.tiny_clip import write_tiny_clip

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        root = tmp_path / "photos"
        t0 = time.perf_counter()
        write_library(root, args.files)
        write_s = time.perf_counter() - t0
        cfg, weights = write_tiny_clip(tmp_path / "tiny-clip")
        env = {"DAGUERRE_HOME": str(tmp_path / "home"), "DAGUERRE_CLIP_MODEL": str(cfg),
               "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu"}

        ctx = Context(load_settings(env=env))
        add_library(ctx, str(root), "bench")
        t0 = time.perf_counter()
        first = index_library(ctx, "bench")
        first_s = time.perf_counter() - t0
        ctx.close()
        assert (first.added, first.failed) == (args.files, 0), first.as_dict()

        scans, idle = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            found, _refused = scan_library(root)
            scans.append(time.perf_counter() - t0)
            wall, summary = timed_index(env)
            assert summary["unchanged"] == args.files and summary["added"] == 0, summary
            assert not summary["model_loaded"], "an idle run loaded the model"
            idle.append(wall)
        assert len(found) == args.files

        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("DAGUERRE_")}
        cli_env.update(env, HF_HUB_OFFLINE="1")
        cli, probes = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", CLI_PROBE], env=cli_env,
                                  capture_output=True, text=True, check=True)
            cli.append(time.perf_counter() - t0)
            out = json.loads(proc.stdout)
            assert out["unchanged"] == args.files and out["added"] == 0, out
            probes.append(json.loads(proc.stderr.strip().splitlines()[-1]))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "daguerre.platform.cli", "--help"], env=cli_env,
                       capture_output=True, check=True)
        help_s = time.perf_counter() - t0

        for path in root.rglob("*.jpg"):  # same bytes, new mtime: every file is hashed
            os.utime(path, (1_000_000, 1_000_000))
        touched_s, touched = timed_index(env)
        assert touched["unchanged"] == args.files and not touched["model_loaded"], touched

    cores = len(os.sched_getaffinity(0))
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
          f"SQLite catalog, tiny test CLIP; {args.files} JPEGs of 64x48 "
          f"(written in {write_s:.1f} s), {args.runs} runs each, median")
    print(f"first index (model, decode workers, embedding): {first_s:.1f} s "
          f"({args.files / first_s:.0f} images/s)")
    print("measure | seconds | model loaded | decode processes")
    print("--- | --- | --- | ---")
    print(f"scan only (stat of every file) | {statistics.median(scans):.2f} | no | 0")
    print(f"index_library, nothing changed | {statistics.median(idle):.2f} | no | 0")
    torch_any = any(p["torch_imported"] for p in probes)
    children = max(p["children"] for p in probes)
    loaded = "torch imported" if torch_any else "no (torch not imported)"
    print(f"`daguerre index` CLI, nothing changed | {statistics.median(cli):.2f} | {loaded} | "
          f"{children}")
    print(f"`daguerre --help` CLI, for scale | {help_s:.2f} | no | 0")
    print(f"index_library, every file touched (hashed) | {touched_s:.2f} | no | 0")


if __name__ == "__main__":
    main()
