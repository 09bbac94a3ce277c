"""Search means something: with a tiny CLIP trained on coloured shapes, held-out images indexed
through `daguerre library add` + `daguerre index` are found by what they show.

The model is configured as a user would (DAGUERRE_CLIP_MODEL / DAGUERRE_CLIP_WEIGHTS), and
every query goes through the CLI, so parsing, caching, the store and the catalog join are all
on the path being measured.
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

QUERIES = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "star"),
           ("purple", "cross"), ("orange", "square")]
PER_QUERY = 12  # images of each queried kind
PER_OTHER = 2  # images of every other colour-shape pair


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def search(*args: str) -> list[dict]:
    return json.loads(invoke("search", *args, "--json"))


def kind(hit: dict) -> tuple[str, str]:
    """(colour, shape) from a file name such as 0007-red-circle.png."""
    _, color, shape = Path(hit["path"]).stem.split("-")
    return color, shape


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, onnx_cache: Path) -> Iterator[Path]:
    """A held-out library (other seed than training; PNG and JPEG), indexed with the model."""
    cfg, weights = trained_clip()
    warm_onnx(cfg, weights, onnx_cache)
    base = tmp_path_factory.mktemp("quality")
    root = base / "shapes"
    backgrounds = ["gray", "black", "white", "brown"]
    specs = [ShapeSpec(c, s, backgrounds[k % 4]) for c, s in QUERIES for k in range(PER_QUERY)]
    specs += [ShapeSpec(c, s, backgrounds[k % 4]) for c in COLORS for s in SHAPES
              for k in range(PER_OTHER) if (c, s) not in QUERIES]
    write_shapes(root / "png", specs[0::2], seed=101)
    write_shapes(root / "jpeg", specs[1::2], seed=102, fmt="jpg")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("DAGUERRE_DATABASE_URL", "DAGUERRE_BROKER_URL", "DAGUERRE_CONFIG"):
            mp.delenv(key, raising=False)
        mp.setenv("DAGUERRE_HOME", str(base / "home"))
        mp.setenv("DAGUERRE_CLIP_MODEL", str(cfg))
        mp.setenv("DAGUERRE_CLIP_WEIGHTS", str(weights))
        mp.setenv("DAGUERRE_DEVICE", "cpu")
        invoke("library", "add", str(root), "--name", "shapes")
        summary = json.loads(invoke("index", "--json"))
        assert summary["added"] == len(specs) and summary["failed"] == 0
        yield root


def test_text_search_precision_at_10(indexed: Path) -> None:
    precisions = {}
    for color, shape in QUERIES:
        hits = search(f"a {color} {shape}", "--limit", "10")
        assert len(hits) == 10
        precisions[f"{color} {shape}"] = sum(kind(h) == (color, shape) for h in hits) / 10
    mean = float(np.mean(list(precisions.values())))
    print(f"text precision@10: mean {mean:.3f}, per query {precisions}")
    assert mean >= 0.8
    assert min(precisions.values()) >= 0.5


def test_negative_term_removes_the_colour(indexed: Path) -> None:
    plain = search("a circle", "--limit", "10")
    negated = search('"a circle" - "red"', "--limit", "10")
    red_plain = sum(kind(h)[0] == "red" for h in plain)
    red_negated = sum(kind(h)[0] == "red" for h in negated)
    circles = sum(kind(h)[1] == "circle" for h in negated)
    print(f"'a circle': {red_plain} red of 10; '\"a circle\" - \"red\"': {red_negated} red, "
          f"{circles} circles of 10")
    assert red_plain >= 2  # red circles are the most common circles in this library...
    assert red_negated == 0  # ...and the negative term removes every one of them
    assert circles >= 6  # while the positive term still decides the shape


def test_weights_shift_the_ranking(indexed: Path) -> None:
    heavy_shape = search('"a circle":1 + "blue":0.3', "--limit", "10")
    heavy_color = search('"a circle":0.3 + "blue":1', "--limit", "10")
    assert sum(kind(h)[1] == "circle" for h in heavy_shape) > \
        sum(kind(h)[1] == "circle" for h in heavy_color)
    assert sum(kind(h)[0] == "blue" for h in heavy_color) > \
        sum(kind(h)[0] == "blue" for h in heavy_shape)


def test_image_terms(indexed: Path, tmp_path: Path) -> None:
    # An indexed image (#ID): its own kind comes first, and it is left out of its results.
    anchor = next(h for h in search("a blue square", "--limit", "3")
                  if kind(h) == ("blue", "square"))
    hits = search(f"#{anchor['id']}", "--limit", "10")
    assert anchor["id"] not in [h["id"] for h in hits]
    by_id = sum(kind(h) == ("blue", "square") for h in hits) / 10
    # An image file outside the library, as a query term and with --image.
    query_file = write_shapes(tmp_path, [ShapeSpec("green", "triangle", "gray")], seed=7)[0]
    by_file = sum(kind(h) == ("green", "triangle") for h in search(str(query_file))) / 10
    by_option = search("--image", str(query_file))
    assert [h["id"] for h in by_option] == [h["id"] for h in search(str(query_file))]
    # Image arithmetic: a blue square, minus blue, plus orange.
    swapped = search(f'#{anchor["id"]} - "blue" + "orange"', "--limit", "10")
    orange_squares = sum(kind(h) == ("orange", "square") for h in swapped)
    print(f"image-term precision@10: #ID {by_id:.2f}, file {by_file:.2f}; "
          f"#blue-square - blue + orange: {orange_squares}/10 orange squares")
    assert by_id >= 0.8 and by_file >= 0.8
    assert orange_squares >= 6


def test_zero_shot_classification_accuracy(indexed: Path, tmp_path: Path) -> None:
    labels = tmp_path / "colours.txt"
    labels.write_text("\n".join(COLORS) + "\n")
    out = json.loads(invoke("classify", "shapes", "--labels", str(labels), "--template",
                            "a {} shape", "--template", "something {}", "--top", "1",
                            "--min-prob", "0", "--json"))
    correct = [r["labels"][0]["label"] == Path(r["path"]).stem.split("-")[1]
               for r in out["results"]]
    color_acc = sum(correct) / len(correct)
    shapes = tmp_path / "shapes.txt"
    shapes.write_text("\n".join(SHAPES) + "\n")
    out = json.loads(invoke("classify", "--labels", str(shapes), "--template", "a {}",
                            "--template", "a photo of a {}", "--top", "1", "--min-prob", "0",
                            "--json"))
    correct = [r["labels"][0]["label"] == Path(r["path"]).stem.split("-")[2]
               for r in out["results"]]
    shape_acc = sum(correct) / len(correct)
    print(f"zero-shot accuracy on {len(correct)} indexed images: colour {color_acc:.3f}, "
          f"shape {shape_acc:.3f}")
    assert color_acc >= 0.8 and shape_acc >= 0.8
    # The second run replaced the colour tags with shape tags; they filter searches.
    stars = search("a shape", "--tag", "star", "--limit", "50")
    assert stars and sum(kind(h)[1] == "star" for h in stars) / len(stars) >= 0.8
    assert search("a shape", "--tag", "star", "--limit", "5", "--offset", "5") == stars[5:10]
