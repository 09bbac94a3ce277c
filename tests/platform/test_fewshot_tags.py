"""Tag a few, find the rest: with the tiny CLIP trained on coloured shapes, a made-up word
("zorblat", which the model never saw) given by a person to ten purple stars finds the other
purple stars, through the CLI a person types (`daguerre tags add|learn|suggest|confirm|refuse`).

Issue 13's target is asserted here: with 10 positives, the top 20 suggestions are at least 90%
right. The library is held out (another seed than training), its ids shuffled so the examples
are not a block, and indexed through `daguerre library add` + `daguerre index`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from daguerre.platform.cli import main
from tests.conftest import warm_onnx
from tests.support.trained_clip import COLORS, SHAPES, ShapeSpec, trained_clip, write_shapes

TARGET = ("purple", "star")
PER_TARGET = 30  # images of the class the made-up word names
PER_OTHER = 2  # images of every other colour-shape pair
POSITIVES = 10


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def as_json(*args: str) -> dict:
    return json.loads(invoke(*args, "--json"))


def kind(path: str) -> tuple[str, str]:
    """(colour, shape) from a file name such as 0007-purple-star.png."""
    _, color, shape = Path(path).stem.split("-")
    return color, shape


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, onnx_cache: Path
            ) -> Iterator[dict[tuple[str, str], list[int]]]:
    """The indexed library: image ids by (colour, shape)."""
    cfg, weights = trained_clip()
    warm_onnx(cfg, weights, onnx_cache)
    base = tmp_path_factory.mktemp("fewshot")
    backgrounds = ["gray", "black", "white", "brown"]
    specs = [ShapeSpec(*TARGET, backgrounds[k % 4]) for k in range(PER_TARGET)]
    specs += [ShapeSpec(c, s, backgrounds[k % 4]) for c in COLORS for s in SHAPES
              for k in range(PER_OTHER) if (c, s) != TARGET]
    order = np.random.default_rng(3).permutation(len(specs))
    write_shapes(base / "shapes", [specs[i] for i in order], seed=131)
    with pytest.MonkeyPatch.context() as mp:
        for key in ("DAGUERRE_DATABASE_URL", "DAGUERRE_BROKER_URL", "DAGUERRE_CONFIG"):
            mp.delenv(key, raising=False)
        mp.setenv("DAGUERRE_HOME", str(base / "home"))
        mp.setenv("DAGUERRE_CLIP_MODEL", str(cfg))
        mp.setenv("DAGUERRE_CLIP_WEIGHTS", str(weights))
        mp.setenv("DAGUERRE_DEVICE", "cpu")
        invoke("library", "add", str(base / "shapes"), "--name", "shapes")
        assert as_json("index")["added"] == len(specs)
        by_kind: dict[tuple[str, str], list[int]] = {}
        for img in as_json("images", "list", "--limit", "500")["items"]:
            by_kind.setdefault(kind(img["path"]), []).append(img["id"])
        yield by_kind


def test_ten_examples_find_the_rest_of_a_concept_the_model_has_no_word_for(library) -> None:
    stars = library[TARGET]
    examples = stars[:POSITIVES]
    invoke("tags", "add", "zorblat", *map(str, examples))
    learned = as_json("tags", "learn", "zorblat")
    assert learned["positives"] == POSITIVES and learned["retrained"] is True
    assert learned["negatives"] == sum(map(len, library.values())) - POSITIVES
    assert learned["metrics"]["method"] == "balanced"

    found = as_json("tags", "suggest", "zorblat", "--limit", "20", "--min-probability", "0")
    items = found["items"]
    assert len(items) == 20
    assert all(i["source"] == "suggested" and i["tag"] == "zorblat" for i in items)
    assert [i["probability"] for i in items] == sorted((i["probability"] for i in items),
                                                       reverse=True)
    assert not {i["id"] for i in items} & set(examples)  # a tagged image is not suggested
    precision = sum(i["id"] in stars for i in items) / 20
    print(f"zorblat, {POSITIVES} positives: precision of the top 20 = {precision:.2f}")
    assert precision >= 0.9  # issue 13's target

    # At the default probability (0.5) the suggestions are the rest of the class and little else.
    default = as_json("tags", "suggest", "zorblat")["items"]
    right = sum(i["id"] in stars for i in default)
    print(f"at probability 0.5: {len(default)} suggested, {right} of the "
          f"{PER_TARGET - POSITIVES} other purple stars")
    assert right >= 0.8 * (PER_TARGET - POSITIVES) and right >= 0.8 * len(default)


def test_answers_shape_the_next_suggestions_and_retrain(library) -> None:
    stars = library[TARGET]
    invoke("tags", "add", "blorp", *map(str, stars[:6]))
    invoke("tags", "learn", "blorp")
    first = as_json("tags", "suggest", "blorp", "--min-probability", "0", "--limit", "40")
    ids = [i["id"] for i in first["items"]]
    yes = [i for i in ids if i in stars][:2]
    no = next(i for i in reversed(ids) if i not in stars)

    # Confirming makes a person's tag; the classifier retrains (no worker: here, at once).
    out = as_json("tags", "confirm", "blorp", *map(str, yes))
    assert out["confirmed"] == 2 and out["retrain"]["status"] == "succeeded"
    assert out["retrain"]["result"]["positives"] == 8
    tags = {t["name"]: t for t in as_json("tags", "list")}
    assert tags["blorp"]["user"] == 8

    # Refusing keeps the image out of every later suggestion and makes it a negative.
    out = as_json("tags", "refuse", "blorp", str(no))
    assert out["refused"] == 1 and out["retrain"]["result"]["metrics"]["refused"] == 1
    again = {i["id"] for i in as_json("tags", "suggest", "blorp", "--min-probability", "0",
                                      "--limit", "500")["items"]}
    assert no not in again and not again & set(yes)
    # The same answer twice changes nothing, and queues no retraining.
    assert as_json("tags", "refuse", "blorp", str(no)) == {
        "tag": "blorp", "refused": 0, "image_ids": [no], "retrain": None}
    # A picture a person tagged is not refused: the tag is removed instead.
    output = invoke("tags", "refuse", "blorp", str(yes[0]), code=2)
    assert "remove the tag" in output
    # Human-readable output names what happened.
    assert "confirmed 1 image(s) for 'blorp'" in invoke("tags", "confirm", "blorp", str(no))


def test_learning_needs_five_examples_and_a_classifier_belongs_to_its_model(library) -> None:
    from sqlalchemy import select, update

    from daguerre.platform.catalog.models import Tag, TagClassifier
    from daguerre.platform.context import Context

    circles = [i for (_colour, shape), ids in sorted(library.items()) if shape == "circle"
               for i in ids]
    invoke("tags", "add", "roundish", *map(str, circles[:3]))
    assert "needs at least 5: tag 2 more" in invoke("tags", "learn", "roundish", code=2)
    assert "no classifier yet" in invoke("tags", "suggest", "roundish", code=2)
    assert "no tag 'nothing-like-it'" in invoke("tags", "learn", "nothing-like-it", code=2)
    assert "no tag" in invoke("tags", "confirm", "nothing-like-it", str(circles[0]), code=2)

    invoke("tags", "add", "roundish", *map(str, circles[3:5]))
    invoke("tags", "learn", "roundish")
    assert as_json("tags", "suggest", "roundish")["classifier"]["positives"] == 5
    # The configured model changes (another model's key on the stored classifier stands for
    # it): suggesting says to learn again, and learning does.
    ctx = Context()
    with ctx.catalog.session() as s:
        s.execute(update(TagClassifier).values(model_key="ViT-B-32__openai").where(
            TagClassifier.tag_id.in_(select(Tag.id).where(Tag.name == "roundish"))))
    ctx.close()
    output = invoke("tags", "suggest", "roundish", code=2)
    assert "trained for the embedding model ViT-B-32__openai" in output
    assert "daguerre tags learn 'roundish'" in output
    invoke("tags", "learn", "roundish")
    assert as_json("tags", "suggest", "roundish")["classifier"]["positives"] == 5
