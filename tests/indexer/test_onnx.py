"""The ONNX Runtime CLIP encoder: export, cache, the agreement check and refusal of a precision
that fails it, and retrieval that agrees with torch on the trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from daguerre.indexer import onnx_export  # noqa: E402
from daguerre.indexer.agreement import Agreement, cosine_figures  # noqa: E402
from daguerre.indexer.models import ClipSpec, load_clip, load_encoder  # noqa: E402
from daguerre.indexer.onnx_encoder import OnnxClipEncoder  # noqa: E402
from tests.support.images import write_photos  # noqa: E402
from tests.support.trained_clip import (  # noqa: E402
    COLORS,
    SHAPES,
    ShapeSpec,
    draw_shape,
    trained_clip,
)


@pytest.fixture(scope="session")
def tiny_spec(tiny_clip: tuple[Path, Path]) -> ClipSpec:
    cfg, weights = tiny_clip
    return ClipSpec(str(cfg), str(weights))


@pytest.fixture(scope="session")
def exported(tiny_spec: ClipSpec, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, list[str]]:
    """One export of the tiny model per session (fp32 and int8): (cache root, notices)."""
    root = tmp_path_factory.mktemp("onnx-cache")
    notices: list[str] = []
    load_encoder(tiny_spec, "cpu", runtime="onnx", precision="int8", cache_root=root,
                 notify=notices.append)
    return root, notices


def onnx_files(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_first_load_exports_both_precisions_and_says_so(exported: tuple[Path, list[str]]):
    root, notices = exported
    dirs = sorted(d.name for d in root.glob("*/*") if d.is_dir())
    assert len(dirs) == 2 and dirs[0].endswith(f"-fp32-ort{onnx_export.ort_version()}")
    assert dirs[1].endswith(f"-int8-ort{onnx_export.ort_version()}")
    assert sum("exporting" in n for n in notices) == 2, notices
    for d in root.glob("*/*"):
        assert onnx_export.is_complete(d)
    assert not list(root.rglob(".tmp-*")), "no temporary export may be left behind"


def test_second_load_uses_the_cache(exported: tuple[Path, list[str]], tiny_spec: ClipSpec):
    root, _ = exported
    before = onnx_files(root)
    notices: list[str] = []
    enc = load_encoder(tiny_spec, "cpu", runtime="onnx", precision="fp32", cache_root=root,
                       notify=notices.append)
    assert isinstance(enc, OnnxClipEncoder) and enc.precision == "fp32"
    assert not any("exporting" in n for n in notices)
    assert onnx_files(root) == before, "a cached model must not be written again"


def test_onnx_encoder_is_a_drop_in_for_torch(exported: tuple[Path, list[str]],
                                            tiny_spec: ClipSpec, tmp_path: Path):
    root, _ = exported
    torch_enc = load_clip(tiny_spec, "cpu")
    enc = load_encoder(tiny_spec, "cpu", runtime="onnx", precision="fp32", cache_root=root,
                       threads=1)
    assert (enc.key, enc.dim, enc.image_size) == (torch_enc.key, torch_enc.dim,
                                                 torch_enc.image_size)
    assert enc.logit_scale == pytest.approx(torch_enc.logit_scale)
    from PIL import Image

    paths = write_photos(tmp_path / "photos")
    images = [Image.open(p).convert("RGB") for p in paths]
    for im in images:  # identical preprocessing: the same pixels reach both models
        assert np.array_equal(enc.pixel_stage(im), torch_enc.pixel_stage(im))
    a, b = enc.encode_images(images), torch_enc.encode_images(images)
    assert a.shape == b.shape and a.dtype == np.float32
    assert cosine_figures(b, a)["min"] > 0.9999
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    texts = ["a red car", "snow", "a photo of a dog on a beach"]
    assert cosine_figures(torch_enc.encode_text(texts), enc.encode_text(texts))["min"] > 0.9999


def test_check_figures_are_stored_beside_each_model(exported: tuple[Path, list[str]]):
    root, _ = exported
    for d in root.glob("*/*"):
        a = Agreement.load(d / onnx_export.AGREEMENT_FILE)
        assert a is not None and a.runtime == "onnx" and a.reference == "torch fp32"
        assert d.name.split("-")[1] == a.precision
        assert a.image_source == "samples"  # no library here: the bundled photos
        assert a.images["n"] >= 16 and a.texts["n"] >= 16
        for fig in (a.images, a.texts):
            assert 0.99 < fig["min"] <= fig["mean"] <= 1.0 + 1e-6
    fp32 = Agreement.load(next(root.glob("*/*-fp32-*")) / onnx_export.AGREEMENT_FILE)
    assert fp32.passes() and fp32.min_cosine > 0.9999


def test_int8_that_fails_the_check_is_refused(exported: tuple[Path, list[str]],
                                             tiny_spec: ClipSpec,
                                             caplog: pytest.LogCaptureFixture):
    root, _ = exported
    caplog.set_level("INFO", logger="daguerre.clip")
    fp32 = Agreement.load(next(root.glob("*/*-fp32-*")) / onnx_export.AGREEMENT_FILE)
    int8 = Agreement.load(next(root.glob("*/*-int8-*")) / onnx_export.AGREEMENT_FILE)
    assert int8.min_cosine < fp32.min_cosine
    # A threshold between the two: int8 cannot meet it, fp32 can.
    threshold = (int8.min_cosine + fp32.min_cosine) / 2
    notices: list[str] = []
    enc = load_encoder(tiny_spec, "cpu", runtime="onnx", precision="int8", cache_root=root,
                       notify=notices.append, min_cosine=threshold)
    assert isinstance(enc, OnnxClipEncoder) and enc.precision == "fp32"
    # The check ran at export (said on stderr then); a load from the cache logs the refusal.
    said = notices + [r.getMessage() for r in caplog.records]
    refusal = next(n for n in said if "int8 refused" in n)
    assert f"{int8.min_cosine:.5f}" in refusal and "using ONNX Runtime fp32" in refusal
    # A threshold nothing meets: torch, said so.
    caplog.clear()
    enc = load_encoder(tiny_spec, "cpu", runtime="onnx", precision="int8", cache_root=root,
                       notify=notices.append, min_cosine=1.5)
    assert getattr(enc, "runtime", "torch") == "torch"
    assert any("using torch fp32" in r.getMessage() for r in caplog.records)


def test_a_killed_export_leaves_no_half_model(tiny_spec: ClipSpec, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    def killed(src: Path, out: Path) -> None:
        out.mkdir(parents=True)
        (out / "image.onnx").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "quantize_int8", killed)
    with pytest.raises(KeyboardInterrupt):
        load_encoder(tiny_spec, "cpu", runtime="onnx", precision="int8", cache_root=tmp_path)
    names = [p.name for p in tmp_path.glob("*/*")]
    assert len(names) == 1 and "-fp32-" in names[0], names  # fp32 finished; int8 left nothing
    assert not list(tmp_path.rglob(".tmp-*"))


def test_torch_setting_and_auto_on_a_gpu_keep_torch(tiny_spec: ClipSpec, tmp_path: Path):
    enc = load_encoder(tiny_spec, "cpu", runtime="torch", cache_root=tmp_path)
    assert getattr(enc, "runtime", "torch") == "torch"
    assert not any(tmp_path.iterdir()), "torch must not export anything"


def test_cosine_figures():
    a = np.eye(3, dtype=np.float32)
    b = a.copy()
    b[2] = [0, 1, 1]
    figs = cosine_figures(a, b)
    assert figs["min"] == pytest.approx(np.sqrt(0.5)) and figs["n"] == 3
    assert figs["mean"] == pytest.approx((2 + np.sqrt(0.5)) / 3)
    with pytest.raises(ValueError):
        cosine_figures(a, b[:2])


def overlap_at_10(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean top-10 overlap between two rankings, each (queries, images) ranked by dot product."""
    def top(q: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.argsort(-(q @ x.T), axis=1)[:, :10]

    return float(np.mean([len(set(r) & set(s)) / 10
                          for r, s in zip(top(*a), top(*b), strict=True)]))


def test_search_results_agree_between_runtimes_on_the_trained_model(tmp_path: Path):
    cfg, weights = trained_clip()
    spec = ClipSpec(str(cfg), str(weights))
    torch_enc = load_clip(spec, "cpu")
    rng = np.random.default_rng(7)
    images = [draw_shape(ShapeSpec(c, s, "gray"), rng) for c in COLORS for s in SHAPES
              for _ in range(3)]
    queries = [f"a {c} {s}" for c in COLORS for s in SHAPES]
    ref_img, ref_q = torch_enc.encode_images(images), torch_enc.encode_text(queries)
    for precision in ("fp32", "int8"):
        enc = load_encoder(spec, "cpu", runtime="onnx", precision=precision,
                           cache_root=tmp_path, min_cosine=0.99)
        assert enc.precision == precision
        img, q = enc.encode_images(images), enc.encode_text(queries)
        floor = 0.95 if precision == "fp32" else 0.85
        # A query embedded by ONNX over the vectors torch stored (a switched runtime), and a
        # library embedded by ONNX throughout: both rank as torch does.
        assert overlap_at_10((ref_q, ref_img), (q, ref_img)) >= floor
        assert overlap_at_10((ref_q, ref_img), (q, img)) >= floor
