"""Prompt adherence: every output of generate, translate and edit stores the cosine between its
prompt and the image under the indexing model, and the image list, the API and the review
queue rank by it, best first.

First with the tiny diffusers models and the tiny CLIP, through the jobs a worker runs (the
score must be what a search for the prompt gives the image); then with the CLIP trained on
coloured shapes, where the score means something: in a batch "drawn" for "a red circle", the
red circles come first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from daguerre.platform.catalog.models import Image, Lineage
from daguerre.platform.cli import main
from tests.platform.test_generation import (  # noqa: F401 - fixtures
    _one_torch_thread,
    env,
    tiny_models,
)

GENERATE = {"prompt": "a lighthouse at dusk", "seed": 5, "steps": 2, "width": 64, "height": 64,
            "batch_size": 3}


def cli(*args: str) -> dict | list:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stored_adherence(ctx, ids: list[int]) -> dict[int, float | None]:  # noqa: ANN001
    with ctx.catalog.session() as s:
        return dict(s.execute(select(Image.id, Image.adherence).where(Image.id.in_(ids))).all())


def test_outputs_carry_their_adherence_and_the_list_ranks_by_it(env) -> None:  # noqa: ANN001, F811
    photo = env.ids[env.paths[0].name]
    gen = env.run("generate", GENERATE)
    trans = env.run("translate", {"image_id": photo, "prompt": "an oil painting of a harbour",
                                  "strength": 0.6, "steps": 3, "seed": 1})
    edit = env.run("edit", {"image_id": photo, "instruction": "make it snowy", "steps": 2,
                            "seed": 2})
    rest = env.run("restore", {"image_ids": [photo]})
    assert [j["status"] for j in (gen, trans, edit, rest)] == ["succeeded"] * 4
    scored = {j["kind"]: j["result"]["image_ids"] for j in (gen, trans, edit)}
    restored = rest["result"]["image_ids"]
    got = stored_adherence(env.ctx, [i for ids in scored.values() for i in ids] + restored)

    # The score is the cosine a search for the prompt gives the image, under the same model.
    for kind, prompt in (("generate", GENERATE["prompt"]),
                         ("translate", "an oil painting of a harbour"),
                         ("edit", "make it snowy")):
        hits = {h["id"]: h["score"] for h in cli("search", prompt, "--limit", "100", "--json")}
        for image_id in scored[kind]:
            assert got[image_id] is not None and -1 <= got[image_id] <= 1
            assert got[image_id] == pytest.approx(hits[image_id], abs=2e-3), kind
    assert got[restored[0]] is None  # no prompt, no score
    outputs = {o["image_id"]: o for o in gen["result"]["outputs"]}
    assert {i: o["adherence"] for i, o in outputs.items()} == {i: got[i] for i in outputs}
    with env.ctx.catalog.session() as s:
        lin = s.scalars(select(Lineage).where(Lineage.image_id == scored["edit"][0])).one()
        assert lin.params["adherence"]["score"] == got[scored["edit"][0]]
        assert lin.params["adherence"]["clip_model"] == env.ctx.encoder().key

    # `images list --generated --sort adherence`: best first, the unscored restore last.
    listed = cli("images", "list", "--generated", "--sort", "adherence", "--json")["items"]
    ids = [r["id"] for r in listed]
    want = sorted((i for i in got if got[i] is not None), key=lambda i: (-got[i], i))
    assert ids == want + restored
    assert [r["adherence"] for r in listed] == [got[i] for i in ids]
    # A batch of seeds for one prompt, best first.
    batch = cli("images", "list", "--job", str(gen["id"]), "--sort", "adherence", "--json")
    assert [r["id"] for r in batch["items"]] == sorted(scored["generate"],
                                                        key=lambda i: -got[i])
    text = CliRunner().invoke(main, ["images", "list", "--generated", "--sort", "adherence"])
    assert f"adherence {got[ids[0]]:.3f}" in text.output.splitlines()[1]

    # The review queue ranks the same way, and pages on in that order.
    from daguerre.platform.services.images import review_queue

    first = review_queue(env.ctx, {"sort": "adherence", "limit": 2})
    rest_of = review_queue(env.ctx, {"sort": "adherence", "limit": 50,
                                     "before": first["next_before"]})
    assert [r["id"] for r in first["items"] + rest_of["items"]] == ids
    assert rest_of["next_before"] is None


def test_rescore_fills_in_scores_from_the_stored_vectors(env) -> None:  # noqa: ANN001, F811
    # As an `embed` job would after outputs were written without CLIP (or with another model).
    from daguerre.platform.services.generation.adherence import rescore

    gen = env.run("generate", {**GENERATE, "batch_size": 2})
    made = gen["result"]["image_ids"]
    before = stored_adherence(env.ctx, made)
    with env.ctx.catalog.session() as s:
        for image_id in made:
            s.get(Image, image_id).adherence = None
    photo = env.ids[env.paths[0].name]  # a library photo: no prompt, left alone
    vectors = env.ctx.store().get(made + [photo])
    assert rescore(env.ctx, zip(made + [photo], vectors, strict=True)) == len(made)
    after = stored_adherence(env.ctx, made + [photo])
    assert {i: after[i] for i in made} == pytest.approx(before, abs=1e-3)
    assert after[photo] is None


def test_a_bad_sort_or_job_is_refused_by_name(env) -> None:  # noqa: ANN001, F811
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.images import list_images, review_queue

    for params, field in (({"sort": "score"}, "sort"), ({"job": "x"}, "job"),
                          ({"sort": ""}, None)):
        if field is None:
            assert list_images(env.ctx, params)["items"]  # empty means the default
            continue
        with pytest.raises(BadInput) as err:
            list_images(env.ctx, params)
        assert err.value.field == field
    with pytest.raises(BadInput) as err:
        review_queue(env.ctx, {"sort": "adherence", "before": 999999})
    assert err.value.field == "before"


def test_the_cli_offers_the_services_orders() -> None:
    from daguerre.platform.cli import images as cli_images
    from daguerre.platform.services import images as svc

    assert cli_images.IMAGE_SORTS == svc.IMAGE_SORTS


# -- with a CLIP that knows shapes -----------------------------------------------------------
class ShapesOperation:
    """Stands in for a diffusion model that follows its prompt only some of the time: image i
    of a batch is ``specs[i]``, whatever the prompt said, with the metadata a pipeline attaches."""

    def __init__(self, specs: list) -> None:  # noqa: ANN001
        self.specs = specs
        self.model = "shapes-painter"

    def run(self, request, on_step=None, should_cancel=None) -> list:  # noqa: ANN001
        from daguerre.generator import metadata
        from tests.support.trained_clip import draw_shape

        rng = np.random.default_rng(request.seed)
        images = []
        for i, spec in enumerate(self.specs):
            image = draw_shape(spec, rng, 64)
            params = {**request.parameters(), "seed": request.seed + i}
            metadata.attach(image, None, {"operation": "generate", "parameters": params})
            images.append(image)
        return images


@pytest.fixture()
def shapes_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, onnx_cache: Path):  # noqa: ANN201
    from daguerre.platform.config import load_settings
    from daguerre.platform.context import Context
    from tests.conftest import warm_onnx
    from tests.support.trained_clip import trained_clip

    cfg, weights = trained_clip()
    warm_onnx(cfg, weights, onnx_cache)
    for key in ("DAGUERRE_DATABASE_URL", "DAGUERRE_BROKER_URL", "DAGUERRE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "painter").mkdir()
    for key, value in {"DAGUERRE_HOME": str(tmp_path / "home"), "DAGUERRE_DEVICE": "cpu",
                       "DAGUERRE_CLIP_MODEL": str(cfg), "DAGUERRE_CLIP_WEIGHTS": str(weights),
                       "DAGUERRE_GENERATE_MODEL": str(tmp_path / "painter")}.items():
        monkeypatch.setenv(key, value)
    ctx = Context(load_settings())
    yield ctx
    ctx.close()


def test_with_a_clip_that_knows_shapes_the_red_circles_rank_first(shapes_ctx, monkeypatch
                                                                   ) -> None:  # noqa: ANN001
    import daguerre.generator
    from daguerre.platform.jobs.runner import execute
    from daguerre.platform.services.images import list_images
    from daguerre.platform.services.jobs import Jobs
    from tests.support.trained_clip import ShapeSpec

    specs = [ShapeSpec("blue", "square", "gray"), ShapeSpec("red", "circle", "white"),
             ShapeSpec("green", "triangle", "black"), ShapeSpec("yellow", "star", "gray"),
             ShapeSpec("red", "circle", "brown"), ShapeSpec("purple", "cross", "white")]
    monkeypatch.setattr(daguerre.generator, "get_operation",
                        lambda task, model, **kw: ShapesOperation(specs))
    jobs = Jobs(shapes_ctx, send=lambda job_id, queue: None)
    job = jobs.create("generate", {"prompt": "a red circle", "seed": 3, "steps": 1,
                                   "batch_size": len(specs)})
    execute(shapes_ctx, job["id"], "test-worker")
    done = jobs.get(job["id"])
    assert done["status"] == "succeeded", done
    made = done["result"]["image_ids"]
    ranked = list_images(shapes_ctx, {"job": job["id"], "sort": "adherence"})["items"]
    scores = [round(r["adherence"], 3) for r in ranked]
    kinds = [specs[made.index(r["id"])] for r in ranked]
    print("adherence to 'a red circle':",
          [(f"{k.color} {k.shape}", s) for k, s in zip(kinds, scores, strict=True)])
    assert {(k.color, k.shape) for k in kinds[:2]} == {("red", "circle")}
    assert scores == sorted(scores, reverse=True)
