"""`--async` on the commands that have a job kind: they queue the job and print its id; a
worker (here the worker's own runner, called inline) then does what the inline command does."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from daguerre.platform.cli import main
from tests.support.images import noise_image, write_photos


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def execute(job_id: int) -> dict:
    from daguerre.platform.context import Context
    from daguerre.platform.jobs.runner import execute as run_job
    from daguerre.platform.services.jobs import Jobs

    ctx = Context()
    try:
        assert run_job(ctx, job_id, "test-worker") == "succeeded"
        return Jobs(ctx).get(job_id)
    finally:
        ctx.close()


def test_classify_and_duplicates_async(clip_env, tmp_path: Path):
    # No worker runs here: the message waits on the local filesystem broker while the test
    # runs the job itself.
    root = tmp_path / "photos"
    write_photos(root, ("coffee", "rocket"))
    noise_image(1).save(root / "a.png")
    (root / "a-copy.png").write_bytes((root / "a.png").read_bytes())
    run("library", "add", str(root), "--name", "p")
    run("index")
    labels = tmp_path / "labels.txt"
    labels.write_text("a cup of coffee\na rocket\na texture\n")

    job = json.loads(run("classify", "p", "--labels", str(labels), "--top", "1",
                         "--min-prob", "0", "--async", "--json"))
    assert job["kind"] == "classify" and job["status"] == "queued"
    assert job["params"]["top"] == 1 and job["params"]["labels"] == [
        "a cup of coffee", "a rocket", "a texture"]
    done = execute(job["id"])
    assert done["result"]["classified"] == 4
    tags = json.loads(run("tags", "list", "--json"))
    assert sum(t["model"] for t in tags) == 4  # --top 1: one model tag per image
    assert {t["name"] for t in tags} <= {"a cup of coffee", "a rocket", "a texture"}

    job_id = int(run("duplicates", "--tier", "exact", "--async").strip())
    done = execute(job_id)
    assert done["params"]["tiers"] == ["exact"]
    assert done["result"]["counts"] == {"exact": 1, "near": 0, "similar": 0}
