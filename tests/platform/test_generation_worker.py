"""Generator jobs through a real `daguerre worker` process (filesystem transport, SQLite).

The worker loads the tiny diffusers models through ``DAGUERRE_<TASK>_MODEL`` and the tiny CLIP,
as a deployment would configure it; the tests only create jobs, cancel them and read the catalog.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from daguerre.platform.catalog.models import Image, Library, Lineage
from daguerre.platform.services.indexing import index_library
from tests.platform.test_generation import model_env, pixels, tiny_models, write_library  # noqa: F401
from tests.platform.test_jobs_worker import Stack


@pytest.fixture(scope="module")
def stack(tiny_clip, tiny_models, tmp_path_factory) -> Iterator[Stack]:  # noqa: F811
    cfg, weights = tiny_clip
    base = tmp_path_factory.mktemp("generation-worker")
    env = {"DAGUERRE_HOME": str(base / "home"), "DAGUERRE_CLIP_MODEL": str(cfg),
           "DAGUERRE_CLIP_WEIGHTS": str(weights), "DAGUERRE_DEVICE": "cpu",
           "DAGUERRE_DECODE_WORKERS": "1", "DAGUERRE_JOB_LEASE_SECONDS": "5",
           **model_env(tiny_models)}
    s = Stack(env, base)
    root = base / "photos"
    write_library(root, 2)
    with s.ctx.catalog.session() as session:
        session.add(Library(name="photos", root=str(root.resolve())))
    index_library(s.ctx, "photos")
    s.root = root
    s.start_worker()
    try:
        yield s
    finally:
        s.stop_worker()
        s.ctx.close()


def _finished(job: dict) -> bool:
    return job["finished"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_translate_on_a_worker_records_lineage_and_indexes_the_output(stack):
    original = stack.root / "photo0.jpg"
    before = hashlib.sha256(original.read_bytes()).hexdigest()
    with stack.ctx.catalog.session() as s:
        parent = s.scalar(select(Image.id).where(Image.path == "photo0.jpg"))
    job = stack.jobs.create("translate", {"image_id": parent, "prompt": "a watercolour",
                                          "strength": 0.5, "steps": 4, "seed": 5})
    done = stack.wait(job["id"], _finished, 150, "finished")
    assert done["status"] == "succeeded", (done, stack.log_tail())
    assert done["worker"] and done["worker"].startswith("daguerre-")
    (out,) = done["result"]["outputs"]
    with stack.ctx.catalog.session() as s:
        img = s.get(Image, out["image_id"])
        lin = s.scalars(select(Lineage).where(Lineage.image_id == img.id)).one()
    assert img.origin == "generated" and (stack.ctx.settings.home / img.path).is_file()
    assert (lin.parent_id, lin.job_id, lin.operation) == (parent, job["id"], "translate")
    assert lin.params["job"]["seed"] == 5
    store = stack.ctx.store()
    store.reload()
    assert out["image_id"] in store.ids().tolist()
    assert hashlib.sha256(original.read_bytes()).hexdigest() == before
    assert pixels(out["path"]).shape == (64, 96, 3)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cancel_between_diffusion_steps_leaves_no_output(stack):
    job = stack.jobs.create("generate", {"prompt": "a long exposure", "steps": 500,
                                         "width": 64, "height": 64, "seed": 1})
    running = stack.wait(job["id"], lambda j: j["progress"]["done"] >= 2, 120,
                         "past its second diffusion step")
    assert running["progress"]["total"] == 500
    asked = time.monotonic()
    stack.jobs.cancel(job["id"])
    done = stack.wait(job["id"], _finished, 30, "finished after cancel")
    assert done["status"] == "canceled", done
    assert done["progress"]["done"] < 500
    assert time.monotonic() - asked < 10
    with stack.ctx.catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(Lineage)
                        .where(Lineage.job_id == job["id"])) == 0
    assert not (stack.ctx.settings.outputs_dir / f"job-{job['id']}").exists()
