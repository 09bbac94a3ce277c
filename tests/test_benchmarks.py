"""Every benchmark script still runs, at a size that takes seconds, and prints measured figures.

The figures in docs/benchmarks.md come from these scripts at full size, some on a lent GPU machine
whose minutes are few: a script broken by a change elsewhere must fail here, not there.
(`index_throughput.py --small` takes minutes on two cores and is left out.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import reachable, require_service

ROOT = Path(__file__).resolve().parents[1]
# A Markdown table cell holding a measured figure ("0.178", "+6.28", "99 ms", "10/10").
MEASURED_ROW = re.compile(r"\|\s*[+-]?\d+(\.\d+)?( ?(ms|s|%|dB)|/\d+)?\s*\|")

RUNS = {
    "generate_gpu": (["--tiny", "--jobs", "--runs", "1", "--warmup", "1"],
                     "job end to end"),
    "restore_quality": (["--seed", "7"], "mean PSNR gain"),
    "search_latency": (["--n", "3000", "--batch", "1000", "--queries", "20",
                        "--recall-queries", "10", "--exact-queries", "5"], "recall@10"),
    "api_search_load": (["--vectors", "2000", "--clients", "2", "--threads", "2",
                         "--seconds", "1"], "search by text"),
    "job_overhead": (["--jobs", "10", "--latency-jobs", "3", "--no-api"], "succeeded"),
    "index_idle": (["--files", "300", "--runs", "2"], "nothing changed"),
    "clip_runtime_quality": (["--per-pair", "2"], "precision@10"),
    "duplicates_quality": (["--families", "10", "--photos", "16", "--screens", "8",
                            "--radii", "8"], "wrong groups"),
    "fewshot_tags": (["--per-class", "4", "--target-size", "30", "--positives", "5,10",
                      "--trials", "1", "--no-compare"], "precision@20"),
    "search_cutoff": (["--libraries", "1", "--per-pair-max", "6"], "best fixed"),
    "near_neighbour_cost": (["--sizes", "500", "--repeat", "1"], "neighbour search"),
    "provenance_costs": (["--mib", "8", "--no-clip"], "model hash"),
    "vector_backends": (["--n", "3000", "--queries", "10", "--inserts", "100",
                         "--ef-sweep", "40"], "recall@10"),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_benchmark_runs_and_prints_measured_figures(script: str, tmp_path: Path,
                                                     request: pytest.FixtureRequest):
    if script == "job_overhead":
        require_service("Redis", reachable(6379))
        require_service("PostgreSQL", reachable(5432))
    args, expect = RUNS[script]
    if script == "vector_backends":  # the session's PostgreSQL with pgvector (skips without)
        args = [*args, "--url", request.getfixturevalue("pgvector_server").get_uri()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGUERRE_")}
    env.update(DAGUERRE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert expect in proc.stdout, proc.stdout
    assert MEASURED_ROW.search(proc.stdout), proc.stdout
