"""Generator jobs on the platform: outputs become catalog images with lineage and vectors.

Jobs run through the same runner a worker uses (``runner.execute``), in this process, on tiny
diffusers models saved with ``save_pretrained`` and loaded through ``DAGUERRE_<TASK>_MODEL``, and
the tiny CLIP. Real worker processes are in ``test_generation_worker.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage
from sqlalchemy import func, select

from daguerre.platform.catalog.models import Image, ImageEmbedding, Library, Lineage
from daguerre.platform.config import load_settings
from daguerre.platform.context import Context
from daguerre.platform.jobs.runner import execute
from daguerre.platform.services.jobs import Jobs
from tests.support.images import noise_image

TASK_DIRS = {"generate": "GENERATE", "translate": "TRANSLATE", "inpaint": "INPAINT",
             "edit": "EDIT", "upscale": "UPSCALE"}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.generator.tiny_diffusers import save_tiny_pipelines

    return save_tiny_pipelines(tmp_path_factory.mktemp("tiny-diffusers-platform"))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads on a busy 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def model_env(tiny_models: dict[str, Path], tasks: tuple[str, ...] = ("generate", "translate",
                                                                      "edit")) -> dict[str, str]:
    """DAGUERRE_<TASK>_MODEL for the tasks that have weights here (inpaint/upscale have none
    unless asked, which is how restore's weights-free path is exercised)."""
    return {f"DAGUERRE_{task.upper()}_MODEL": str(tiny_models[task]) for task in tasks}


def write_library(root: Path, n: int = 3) -> list[Path]:
    root.mkdir(parents=True)
    paths = []
    for i in range(n):
        path = root / f"photo{i}.jpg"
        noise_image(100 + i, size=(96, 64)).save(path, quality=90)
        paths.append(path)
    return paths


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Env:
    """A data directory with an indexed library, tiny models configured, and the job service
    (messages recorded instead of sent: jobs are executed here with the worker's runner)."""

    def __init__(self, root: Path, ctx: Context, paths: list[Path]) -> None:
        self.root, self.ctx, self.paths = root, ctx, paths
        self.sent: list[int] = []
        self.jobs = Jobs(ctx, send=lambda job_id, queue: self.sent.append(job_id))
        with ctx.catalog.session() as s:
            self.ids = {r.path: r.id for r in s.execute(select(Image.id, Image.path))}

    def run(self, kind: str, params: dict) -> dict:
        job = self.jobs.create(kind, params)
        execute(self.ctx, job["id"], "test-worker")
        return self.jobs.get(job["id"])


@pytest.fixture()
def env(clip_env, tiny_models, tmp_path, monkeypatch) -> Env:
    from daguerre.platform.services.indexing import index_library

    for key, value in model_env(tiny_models).items():
        monkeypatch.setenv(key, value)
    for task in ("inpaint", "upscale"):
        monkeypatch.delenv(f"DAGUERRE_{task.upper()}_MODEL", raising=False)
    monkeypatch.setenv("DAGUERRE_DECODE_WORKERS", "1")
    root = tmp_path / "photos"
    paths = write_library(root)
    ctx = Context(load_settings())
    with ctx.catalog.session() as s:
        s.add(Library(name="photos", root=str(root.resolve())))
    index_library(ctx, "photos")
    yield Env(root, ctx, paths)
    ctx.close()


def output_rows(ctx: Context, job_id: int) -> list[Image]:
    with ctx.catalog.session() as s:
        ids = s.scalars(select(Lineage.image_id).where(Lineage.job_id == job_id)).all()
        return list(s.scalars(select(Image).where(Image.id.in_(ids)).order_by(Image.id)))


def pixels(path: str | Path) -> np.ndarray:
    with PILImage.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_generate_output_is_a_searchable_catalog_image_with_provenance(env):
    from daguerre.generator.metadata import parse_parameters, read_png_metadata
    from daguerre.platform.cli import main

    job = env.run("generate", {"prompt": "a lighthouse, at dusk", "negative_prompt": "blurry",
                               "seed": 7, "steps": 3, "width": 64, "height": 64,
                               "scheduler": "euler"})
    assert job["status"] == "succeeded", job
    assert job["progress"]["done"] == job["progress"]["total"] == 3
    (out,) = job["result"]["outputs"]
    path = Path(out["path"])
    assert path.is_file() and path.suffix == ".png"
    assert path.resolve().is_relative_to(env.ctx.settings.outputs_dir.resolve())

    text, provenance = read_png_metadata(path)
    fields = parse_parameters(text)
    assert fields["Prompt"] == "a lighthouse, at dusk"
    assert fields["Negative prompt"] == "blurry"
    assert (fields["Seed"], fields["Steps"], fields["Size"]) == ("7", "3", "64x64")
    assert fields["Sampler"] == "Euler"
    assert provenance["operation"] == "generate"
    assert provenance["parameters"]["seed"] == 7 and provenance["model"].endswith("tiny-sd")

    with env.ctx.catalog.session() as s:
        img = s.get(Image, out["image_id"])
        assert img.origin == "generated" and img.library_id is None
        assert env.ctx.settings.home / img.path == path
        assert (img.width, img.height, img.format) == (64, 64, "PNG")
        assert img.sha256 == sha(path) and img.size == path.stat().st_size
        assert img.phash and (env.ctx.settings.home / img.thumbnail).is_file()
        (lin,) = s.scalars(select(Lineage).where(Lineage.image_id == img.id)).all()
        assert (lin.parent_id, lin.job_id, lin.operation) == (None, job["id"], "generate")
        assert lin.params["job"]["prompt"] == "a lighthouse, at dusk"
        assert lin.params["job"]["scheduler"] == "euler"
        assert lin.params["provenance"]["parameters"]["steps"] == 3
        assert s.get(ImageEmbedding, (img.id, env.ctx.encoder().key)) is not None
    assert out["image_id"] in env.ctx.store().ids().tolist()

    found = CliRunner().invoke(main, ["search", "--image", str(path), "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.output)
    assert hits[0]["id"] == out["image_id"] and hits[0]["path"] == str(path)


def test_translate_links_its_parent_reproduces_by_seed_and_never_touches_the_original(env):
    original = env.paths[0]
    before = sha(original)
    parent = env.ids[original.name]
    params = {"image_id": parent, "prompt": "an oil painting", "strength": 0.6, "steps": 4,
              "seed": 11}
    first = env.run("translate", params)
    again = env.run("translate", params)
    other = env.run("translate", {**params, "seed": 12})
    assert [j["status"] for j in (first, again, other)] == ["succeeded"] * 3
    a, b, c = (Path(j["result"]["outputs"][0]["path"]) for j in (first, again, other))
    assert a != b  # each job its own file
    assert np.array_equal(pixels(a), pixels(b)), "same seed and parameters, different image"
    assert not np.array_equal(pixels(a), pixels(c)), "a different seed made the same image"
    (row,) = output_rows(env.ctx, first["id"])
    with env.ctx.catalog.session() as s:
        (lin,) = s.scalars(select(Lineage).where(Lineage.image_id == row.id)).all()
    assert (lin.parent_id, lin.operation) == (parent, "translate")
    assert lin.params["job"]["strength"] == 0.6 and lin.params["job"]["image_id"] == parent
    assert sha(original) == before


def test_a_missing_seed_is_fixed_at_creation_so_a_retry_makes_the_same_image(env):
    job = env.run("generate", {"prompt": "a red barn", "steps": 2, "width": 64, "height": 64})
    seed = job["params"]["seed"]
    assert isinstance(seed, int)
    assert job["result"]["outputs"][0]["seed"] == seed


def test_a_rerun_of_the_same_job_overwrites_its_outputs_instead_of_duplicating(env):
    from daguerre.platform.services.generation.operations import run_operation

    job = env.run("generate", {"prompt": "a harbour", "seed": 3, "steps": 2, "width": 64,
                               "height": 64, "batch_size": 2})
    first = job["result"]["image_ids"]
    assert len(first) == 2
    # As a worker would after a crash between writing and finishing the job row.
    again = run_operation(env.ctx, job["id"], "generate", job["params"],
                          progress=lambda *a: None, should_cancel=lambda: False)
    assert again["image_ids"] == first
    with env.ctx.catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(Lineage)
                        .where(Lineage.job_id == job["id"])) == 2
        generated = s.scalar(select(func.count()).select_from(Image)
                             .where(Image.origin == "generated"))
    assert generated == 2
    ids = env.ctx.store().ids().tolist()
    assert sorted(i for i in ids if i in first) == sorted(first)


def test_batch_restore_fails_a_corrupt_image_alone_and_keeps_originals(env):
    good = env.paths[:2]
    bad = env.paths[2]
    bad.write_bytes(bad.read_bytes()[:200])  # damaged on disk since it was indexed
    before = {p: sha(p) for p in env.paths}
    job = env.run("restore", {"image_ids": [env.ids[p.name] for p in env.paths]})
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert [f["image_id"] for f in result["failed"]] == [env.ids[bad.name]]
    assert "photo2.jpg" in result["failed"][0]["reason"]
    assert sorted(o["parents"][0] for o in result["outputs"]) == \
        sorted(env.ids[p.name] for p in good)
    # No inpainting weights here: said once, in the result, and the OpenCV method used.
    assert any("inpaint" in n and "weights-free" in n for n in result["notes"])
    for out in result["outputs"]:
        with PILImage.open(out["path"]) as im:
            assert json.loads(im.text["daguerre"])["operation"] == "restore"
            # A1111's post-processing line; a photo had no generation parameters to keep.
            assert "Postprocess damage detection: morphology" in im.text["postprocessing"]
            assert "parameters" not in im.text
    assert {p: sha(p) for p in env.paths} == before
    rows = output_rows(env.ctx, job["id"])
    assert len(rows) == 2 and all(r.origin == "generated" for r in rows)


def test_restore_cli_options_reach_the_recipe(env):
    from daguerre.platform.cli import main

    res = CliRunner().invoke(main, ["restore", str(env.paths[0]), "--no-denoise",
                                    "--white-balance", "gray_world", "--inline", "--json"])
    assert res.exit_code == 0, res.output
    job = json.loads(res.output.strip().splitlines()[-1])
    assert job["params"]["recipe"] == {"denoise": False, "white_balance": "gray_world"}
    assert job["result"]["recipe"]["denoise"] is False
    bad = CliRunner().invoke(main, ["restore", str(env.paths[0]), "--denoise-strength", "99"])
    assert bad.exit_code == 2 and "denoise-strength" in bad.output


def test_require_diffusion_without_inpaint_weights_is_a_clear_error(env):
    from daguerre.platform.cli import main

    res = CliRunner().invoke(main, ["restore", f"#{env.ids['photo0.jpg']}",
                                    "--require-diffusion", "--inline"])
    assert res.exit_code == 2, res.output
    assert "inpaint" in res.output and "DAGUERRE_INPAINT_MODEL" in res.output
    assert "stable-diffusion-inpainting" in res.output  # names the model it looked for
    assert not list(env.ctx.settings.outputs_dir.rglob("*.png"))


def test_targets_outside_every_library_are_refused(env, tmp_path):
    from daguerre.platform.cli import main

    outside = tmp_path / "elsewhere.jpg"
    noise_image(5).save(outside)
    link = env.root / "sneaky.jpg"
    link.symlink_to(outside)
    runner = CliRunner()
    for target in (str(outside), str(link), str(tmp_path)):
        res = runner.invoke(main, ["restore", target, "--inline"])
        assert res.exit_code == 2, res.output
        assert "outside every library" in res.output
    res = runner.invoke(main, ["translate", str(outside), "--prompt", "x"])
    assert res.exit_code == 2 and "outside every library" in res.output
    with env.ctx.catalog.session() as s:
        assert s.scalar(select(func.count()).select_from(Image)
                        .where(Image.origin == "generated")) == 0


def test_restore_a_folder_by_path(env):
    from daguerre.platform.cli import main

    res = CliRunner().invoke(main, ["restore", str(env.root), "--no-detect", "--no-denoise",
                                    "--inline"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("#")]
    assert len(lines) == 3 and all("(from #" in ln for ln in lines)


def test_images_cli_shows_provenance_and_curates(env):
    from daguerre.platform.cli import main

    runner = CliRunner()
    source = env.ids["photo0.jpg"]
    res = runner.invoke(main, ["restore", f"#{source}", "--no-denoise", "--inline", "--json"])
    assert res.exit_code == 0, res.output
    job = json.loads(res.output)
    made = job["result"]["image_ids"][0]

    shown = runner.invoke(main, ["images", "show", str(made)])
    assert shown.exit_code == 0, shown.output
    assert f"made from #{source} by job {job['id']} (restore)" in shown.output
    assert "generated" in shown.output and "unrated" in shown.output
    assert f"made into #{made} by job {job['id']} (restore)" in \
        runner.invoke(main, ["images", "show", str(source)]).output
    full = json.loads(runner.invoke(main, ["images", "show", str(made), "--json"]).output)
    assert full["lineage"][0]["params"]["job"]["image_ids"] == [source]  # the full parameters

    assert runner.invoke(main, ["images", "rate", str(made), "4"]).output.strip() == \
        f"#{made}: rated 4"
    assert runner.invoke(main, ["images", "review", str(made), "approved"]).output.strip() == \
        f"#{made}: approved"
    full = json.loads(runner.invoke(main, ["images", "show", str(made), "--json"]).output)
    assert (full["rating"], full["review_state"]) == (4, "approved")
    for args in (["rate", str(made), "9"], ["review", str(made), "maybe"],
                 ["show", "999999"], ["rate", "999999", "3"]):
        res = runner.invoke(main, ["images", *args])
        assert res.exit_code == 2, (args, res.output)
    assert "no image with id 999999" in runner.invoke(main, ["images", "show", "999999"]).output


def test_a_retried_restore_goes_on_where_the_stopped_one_ended(env, monkeypatch):
    """A batch stopped part-way (its time limit, a cancel) is retried: what was restored is
    kept and not made again, so a long archive finishes over several tries."""
    import daguerre.generator as generator
    from daguerre.generator.errors import Canceled

    real, calls = generator.restore, []

    def stops_at_the_second_image(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Canceled("the soft time limit passed")
        return real(*args, **kwargs)

    monkeypatch.setattr(generator, "restore", stops_at_the_second_image)
    ids = sorted(env.ids.values())
    params = {"image_ids": ids, "recipe": {"detect": False, "denoise": False}}
    first = env.run("restore", params)
    assert first["status"] == "canceled"
    with env.ctx.catalog.session() as s:
        made = s.scalars(select(Lineage.image_id).where(Lineage.job_id == first["id"])).all()
    assert len(made) == 1

    monkeypatch.setattr(generator, "restore", real)
    second = env.jobs.retry(first["id"])
    execute(env.ctx, second["id"], "test-worker")
    done = env.jobs.get(second["id"])
    assert done["status"] == "succeeded", done
    outs = done["result"]["outputs"]
    assert [o["parents"] for o in outs] == [[i] for i in ids]
    assert outs[0] == {**outs[0], "image_id": made[0], "resumed": True, "from_job": first["id"]}
    assert not any(o.get("resumed") for o in outs[1:])
    with env.ctx.catalog.session() as s:  # one restored copy of each photo, no more
        parents = s.scalars(select(Lineage.parent_id).where(Lineage.operation == "restore")).all()
    assert sorted(parents) == ids


def test_restore_a_16_bit_scan_and_a_transparent_png(env):
    """Archive scans are often 16-bit, and PNGs may be transparent: Pillow's convert("RGB")
    turned the first black and the second's transparent area into whatever it held."""
    from daguerre.platform.cli import main

    ramp = np.tile(np.linspace(0, 4095, 96), (64, 1)).astype(np.uint16)  # 12 bits of 16
    PILImage.fromarray(ramp).save(env.root / "scan16.png")
    rgba = np.zeros((64, 96, 4), np.uint8)
    rgba[:, :48] = (200, 40, 40, 255)  # the left half is opaque red; the right, transparent black
    PILImage.fromarray(rgba, "RGBA").save(env.root / "cutout.png")
    res = CliRunner().invoke(main, ["restore", str(env.root / "scan16.png"),
                                    str(env.root / "cutout.png"), "--no-detect", "--no-levels",
                                    "--no-denoise", "--inline"])
    assert res.exit_code == 0, res.output
    outputs = {line.split("from #")[1].rstrip(")"): Path(line.split()[1])
               for line in res.output.splitlines() if line.startswith("#")}
    assert len(outputs) == 2
    with env.ctx.catalog.session() as s:
        names = {str(i.id): i.path for i in s.scalars(select(Image))}
    by_name = {names[parent]: path for parent, path in outputs.items()}
    scan = pixels(by_name["scan16.png"])
    assert scan[:, -1].mean() > 240 and scan[:, 0].mean() < 15  # the ramp, dark to light,
    assert abs(scan[:, 48].mean() - 128) < 20  # not clipped to white past 255 of 4095
    cut = pixels(by_name["cutout.png"])
    assert (cut[:, :40] == (200, 40, 40)).all() and (cut[:, 56:] == 255).all()
    umask = os.umask(0)
    os.umask(umask)
    assert by_name["cutout.png"].stat().st_mode & 0o777 == 0o666 & ~umask


def test_restore_catalogs_files_of_a_never_indexed_library_without_clip_weights(
        env, tmp_path, monkeypatch):
    from daguerre.platform.cli import main
    from daguerre.platform.services.indexing import index_library

    root = tmp_path / "scans"
    write_library(root, 2)
    (root / "sub").mkdir()
    noise_image(9, size=(80, 64)).save(root / "sub" / "deep.jpg", quality=90)
    (root / "torn.jpg").write_bytes((root / "photo0.jpg").read_bytes()[:300])
    with env.ctx.catalog.session() as s:
        s.add(Library(name="scans", root=str(root.resolve())))
    clip_weights = env.ctx.settings.clip_weights
    monkeypatch.setenv("DAGUERRE_CLIP_WEIGHTS", str(tmp_path / "no-such-weights.bin"))
    runner = CliRunner()

    res = runner.invoke(main, ["restore", str(root), "--no-denoise", "--inline"])
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and "torn.jpg" in res.output
    made = [ln for ln in res.output.splitlines() if ln.startswith("#")]
    assert len(made) == 3
    assert "not embedded" in res.output  # outputs wait for CLIP weights, and say so
    with env.ctx.catalog.session() as s:
        lib_id = s.scalar(select(Library.id).where(Library.name == "scans"))
        rows = {r.path: r for r in s.scalars(select(Image).where(Image.library_id == lib_id))}
        assert sorted(rows) == ["photo0.jpg", "photo1.jpg", "sub/deep.jpg"]
        assert all(r.status == "active" and r.width and r.phash for r in rows.values())
        assert all((env.ctx.settings.home / r.thumbnail).is_file() for r in rows.values())
        assert s.scalar(select(func.count()).select_from(ImageEmbedding)
                        .where(ImageEmbedding.image_id.in_([r.id for r in rows.values()]))) == 0
    ids = {p: r.id for p, r in rows.items()}

    # Named again, a file keeps its row; a corrupt file named alone is an error that says why.
    again = runner.invoke(main, ["restore", str(root / "sub" / "deep.jpg"), "--no-denoise",
                                 "--inline"])
    assert again.exit_code == 0, again.output
    assert f"(from #{ids['sub/deep.jpg']})" in again.output
    torn = runner.invoke(main, ["restore", str(root / "torn.jpg"), "--inline"])
    assert torn.exit_code == 2 and "torn.jpg" in torn.output and "corrupt" in torn.output
    # A subfolder's link to another file of the same library is inside it, not "outside".
    (root / "sub" / "alias.jpg").symlink_to(root / "photo1.jpg")
    sub = runner.invoke(main, ["restore", str(root / "sub"), "--no-denoise", "--no-detect",
                               "--inline"])
    assert sub.exit_code == 0 and "skipped" not in sub.output, sub.output
    assert len([ln for ln in sub.output.splitlines() if ln.startswith("#")]) == 2

    # While an indexer holds the library, adding to it waits for that run instead of racing it.
    from daguerre.platform.services.indexing_lease import indexing_lease

    noise_image(11).save(root / "late.jpg")
    with indexing_lease(env.ctx.catalog, lib_id, owner="another-host:4242"):
        busy = runner.invoke(main, ["restore", str(root / "late.jpg"), "--inline"])
    assert busy.exit_code == 2 and "being indexed by another-host:4242" in busy.output

    # The library's first real index embeds those rows under the same ids.
    monkeypatch.setenv("DAGUERRE_CLIP_WEIGHTS", str(clip_weights))
    ctx = Context(load_settings())
    try:
        summary = index_library(ctx, "scans")
        # late.jpg is new; the four cataloged rows (alias.jpg too) are embedded in place.
        assert summary.added == 1 and summary.updated == 4
        with ctx.catalog.session() as s:
            embedded = set(s.scalars(select(ImageEmbedding.image_id)))
        assert set(ids.values()) <= embedded
    finally:
        ctx.close()


def test_bad_arguments_exit_2_naming_the_option(env):
    from daguerre.platform.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["generate", "a cat", "--width", "100", "--inline"])
    assert res.exit_code == 2 and "--width" in res.output and "multiple of 8" in res.output
    res = runner.invoke(main, ["generate", "a cat", "--scheduler", "nope"])
    assert res.exit_code == 2 and "--scheduler" in res.output
    # Checked only once the image is known: the job fails and the command says why (in the
    # job's words: a failed job keeps its error's text, not its field, so no option is named).
    res = runner.invoke(main, ["translate", f"#{env.ids['photo0.jpg']}", "--prompt", "x",
                               "--strength", "0.1", "--steps", "2", "--inline"])
    assert res.exit_code == 2 and "strength=0.1" in res.output and "steps" in res.output
    res = runner.invoke(main, ["translate", "#999999", "--prompt", "x"])
    assert res.exit_code == 2 and "999999" in res.output


def test_async_returns_the_job_id_at_once(env):
    from daguerre.platform.cli import main

    res = CliRunner().invoke(main, ["generate", "a cat", "--steps", "2", "--async"])
    assert res.exit_code == 0, res.output
    job_id = int(res.output.strip())
    assert env.jobs.get(job_id)["status"] == "queued"


def test_models_list_shows_each_diffusion_task_and_whether_it_is_here(env):
    from daguerre.platform.cli import main

    res = CliRunner().invoke(main, ["models", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["task"]: r for r in json.loads(res.output)}
    assert set(rows) == {"clip", "generate", "translate", "inpaint", "edit", "upscale"}
    assert rows["generate"]["weights_present"] and rows["generate"]["model"].endswith("tiny-sd")
    assert rows["inpaint"]["weights_present"] is False  # the public default, not cached here
    assert rows["inpaint"]["configured_by"] == "DAGUERRE_INPAINT_MODEL"


def test_a_model_that_needs_a_download_fails_at_once_when_the_hub_is_unreachable(
        env, monkeypatch):
    """Not told it is offline, but nothing answers at the hub: the job fails in seconds naming
    the model, why, and how to provide it; nothing is written."""
    from daguerre.platform import hub
    from daguerre.platform.cli import main
    from tests.conftest import closed_port

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DAGUERRE_GENERATE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    hub.forget()
    res = CliRunner().invoke(main, ["generate", "a cat", "--steps", "2", "--inline"])
    hub.forget()
    assert res.exit_code == 2, res.output
    assert "stable-diffusion-v1-5" in res.output and "is unreachable" in res.output
    assert "DAGUERRE_GENERATE_MODEL" in res.output
    assert not list((env.ctx.settings.home / "outputs").rglob("*.png"))


def test_models_pull_offline_tries_every_model_and_names_each_failure(env, tmp_path, monkeypatch):
    """Offline, `models pull` makes ready what it can, says why each other model is not, tries
    a model that two tasks share once, and exits 2."""
    from daguerre.generator.models import resolve_model
    from daguerre.platform.cli import main

    inpaint = resolve_model("inpaint")  # the public default: not cached, and no network
    monkeypatch.setenv("DAGUERRE_UPSCALE_MODEL", inpaint)
    monkeypatch.setenv("DAGUERRE_EDIT_MODEL", str(tmp_path / "missing"))
    res = CliRunner().invoke(main, ["models", "pull"])
    assert res.exit_code == 2, res.output
    lines = res.output.splitlines()
    for task in ("clip", "generate", "translate"):
        assert any(line.startswith(f"{task}: weights ready: ") for line in lines), res.output
    assert any(line.startswith("inpaint: FAILED: ") and inpaint in line
               and "DAGUERRE_INPAINT_MODEL" in line for line in lines), res.output
    assert f"edit: FAILED: DAGUERRE_EDIT_MODEL={tmp_path / 'missing'} does not exist" in res.output
    assert f"upscale: FAILED: {inpaint}: as above" in res.output
    assert res.output.count(f"downloading {inpaint}") == 1
    assert lines[-1].endswith("3 of the requested models are not ready: inpaint, edit, upscale "
                              "(reasons above)")
