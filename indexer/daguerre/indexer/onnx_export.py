"""Export a CLIP model's image and text towers to ONNX (fp32, and int8 by dynamic quantisation),
check them against torch fp32, and cache the result.

Layout of the cache (``root`` is ``<data dir>/models/onnx`` unless configured)::

    root/<model key>/<weights digest>-<precision>-ort<onnxruntime version>/
        image.onnx  text.onnx  meta.json  agreement.json

The runtime version is part of the name because quantised kernels and graph optimisations change
between ONNX Runtime releases: the check's figures hold for the version that measured them. A
directory is written under a temporary name and renamed into place when complete, so an export
that is killed leaves no half model (only a ``.tmp-*`` folder, removed by a later export).

Export uses torch's TorchScript-based ONNX exporter (``dynamo=False``): it handles every open_clip
tower without extra packages (the dynamo exporter needs onnxscript); quantisation uses
``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations quantised per batch at
run time, so it needs no calibration set and is the same for every library).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daguerre.indexer.agreement import CHECK_TEXTS, Agreement, measure
from daguerre.indexer.onnx_encoder import IMAGE_FILE, META_FILE, TEXT_FILE

if TYPE_CHECKING:
    from PIL import Image

    from daguerre.indexer.encoder import ClipEncoder, PixelStage

PRECISIONS = ("fp32", "int8")
AGREEMENT_FILE = "agreement.json"
OPSET = 17
MIN_LIBRARY_SAMPLES = 8  # fewer decodable library images than this: use the bundled samples
MAX_SAMPLES = 32
_STALE_TMP_SECONDS = 3600


class ExportError(Exception):
    """The model could not be exported or quantised (an architecture the exporter cannot
    trace, a full disk); the message says which model and why."""


def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def weights_digest(checkpoint: str | os.PathLike[str]) -> str:
    """A short digest of the weights file's content. A Hugging Face cache file is a link to a
    blob named by its content hash, which is used as is (hashing 600 MB on every start would
    cost seconds); any other file is hashed (cached per size and mtime in models.py)."""
    from daguerre.indexer.models import _file_digest

    real = Path(checkpoint).resolve()
    if re.fullmatch(r"[0-9a-f]{40,64}", real.name):
        return real.name[:12]
    st = real.stat()
    return _file_digest(str(real), st.st_size, st.st_mtime_ns)


def export_dir(root: Path, key: str, digest: str, precision: str) -> Path:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return Path(root) / key / f"{digest}-{precision}-ort{ort_version()}"


def is_complete(directory: Path) -> bool:
    return all((directory / name).is_file()
               for name in (IMAGE_FILE, TEXT_FILE, META_FILE, AGREEMENT_FILE))


@dataclass(frozen=True)
class Exported:
    """An exported model ready to load, with its check against torch fp32."""

    directory: Path
    precision: str
    agreement: Agreement
    exported_now: bool


# ----------------------------------------------------------------------------- export


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter and the quantiser warn about things the user cannot act on (deprecation of
    the TorchScript exporter, "consider pre-processing"); one line per export says enough."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_fp32(encoder: ClipEncoder, out: Path) -> None:
    """Write ``image.onnx``, ``text.onnx`` and ``meta.json`` of a loaded torch encoder into
    ``out``; the batch axis of both towers is dynamic."""
    import torch

    if encoder.device != "cpu":
        raise ExportError("export from a torch model on the CPU (its fp32 embeddings are the "
                          "check's reference)")
    model = encoder.model.eval()

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(pixels)

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_text(tokens)

    pp = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    if not pp:
        raise ExportError(f"{encoder.spec.describe()}: the model records no preprocessing "
                          "config (open_clip's visual.preprocess_cfg), so ONNX could not "
                          "reproduce it")
    size = pp["size"]
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    pixels = torch.zeros(2, 3, h, w)
    tokens = encoder.tokenizer(["a photo", "a photo of a dog"]).to("cpu")
    out.mkdir(parents=True, exist_ok=True)
    try:
        # Not under no_grad: there nn.MultiheadAttention takes its fused fast path, an operator
        # the exporter cannot translate; with grad enabled it traces the plain operations.
        with _quiet():
            for tower, example, name, file in (
                    (ImageTower().eval(), pixels, "pixels", IMAGE_FILE),
                    (TextTower().eval(), tokens, "tokens", TEXT_FILE)):
                torch.onnx.export(
                    tower, (example,), str(out / file), dynamo=False, opset_version=OPSET,
                    input_names=[name], output_names=["embedding"],
                    dynamic_axes={name: {0: "batch"}, "embedding": {0: "batch"}},
                    do_constant_folding=True)
    except Exception as exc:  # noqa: BLE001 - tracer and exporter errors have no common base
        raise ExportError(f"cannot export {encoder.spec.describe()} to ONNX: "
                          f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    finally:
        # The exporter restores each wrapper's train/eval flag recursively, so the wrappers are
        # in eval mode and the model is put back in it: in train mode BatchNorm (ResNet towers)
        # would use batch statistics and the torch encoder would change its embeddings.
        model.eval()
    meta = {"arch": encoder.spec.arch, "model_key": encoder.key, "dim": encoder.dim,
            "image_size": [h, w], "logit_scale": encoder.logit_scale,
            "context_length": int(tokens.shape[-1]), "preprocess": pp,
            "opset": OPSET, "torch": torch.__version__, "onnxruntime": ort_version()}
    (out / META_FILE).write_text(json.dumps(meta, indent=2, default=list))


def quantize_int8(src: Path, out: Path) -> None:
    """Dynamic int8 quantisation of both towers of the fp32 export in ``src`` into ``out``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet():
            for file in (IMAGE_FILE, TEXT_FILE):
                quantize_dynamic(src / file, out / file, weight_type=QuantType.QInt8,
                                 per_channel=True)
    except Exception as exc:  # noqa: BLE001 - the quantiser raises plain Exceptions
        raise ExportError(f"cannot quantise {src.name} to int8: {type(exc).__name__}: "
                          f"{str(exc)[:300]}") from exc
    shutil.copy2(src / META_FILE, out / META_FILE)


# ----------------------------------------------------------------------------- check samples


def bundled_samples() -> list[Image.Image]:
    """Photographs shipped with scikit-image (no download), with crops and mirror images so the
    check sees more than a handful of compositions; smooth random images if it is missing."""
    from PIL import Image

    images: list[Image.Image] = []
    try:
        from skimage import data

        for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
                     "immunohistochemistry", "retina", "cat", "camera", "moon", "page",
                     "colorwheel"):
            try:
                images.append(Image.fromarray(getattr(data, name)()).convert("RGB"))
            except Exception:  # noqa: BLE001,S112 - a sample that needs a download is skipped
                continue
    except ImportError:
        pass
    variants: list[Image.Image] = []
    for im in images:
        w, h = im.size
        variants.append(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        variants.append(im.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4)))
    images += variants
    rng = np.random.default_rng(0)
    while len(images) < 16:
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        images.append(Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC))
    return images[:MAX_SAMPLES]


def sample_pixels(pixel_stage: PixelStage, library_paths: Sequence[str | os.PathLike[str]] = ()
                  ) -> tuple[np.ndarray, str]:
    """The check's images as model pixels: the library's own (up to :data:`MAX_SAMPLES`) when
    at least :data:`MIN_LIBRARY_SAMPLES` decode, else the bundled samples."""
    from PIL import Image, ImageOps

    pixels: list[np.ndarray] = []
    for path in library_paths:
        if len(pixels) >= MAX_SAMPLES:
            break
        try:
            with Image.open(path) as im:
                im.draft("RGB", (512, 512))
                pixels.append(pixel_stage(ImageOps.exif_transpose(im).convert("RGB")))
        except Exception:  # noqa: BLE001,S112 - an unreadable file is simply not a sample
            continue
    if len(pixels) >= MIN_LIBRARY_SAMPLES:
        return np.stack(pixels), "library"
    return np.stack([pixel_stage(im) for im in bundled_samples()]), "samples"


# ----------------------------------------------------------------------------- cache


def _clean_stale(parent: Path) -> None:
    now = time.time()
    for tmp in parent.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, final: Path) -> None:
    """Rename a finished export into place; another process that finished first wins."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not is_complete(final):
            raise


def ensure_exported(root: Path, key: str, digest: str, precision: str,
                    torch_encoder: Callable[[], ClipEncoder], *,
                    library_paths: Callable[[], Sequence[str]] = lambda: (),
                    notify: Callable[[str], None] = lambda msg: None) -> Exported:
    """The cached export of ``precision``, exported (and checked) now if it is not cached.

    ``torch_encoder`` builds the torch model (called only when something must be exported or
    checked); ``library_paths`` gives image files for the check (the library's own photos).
    int8 is quantised from the fp32 export, which is exported (and cached) first.
    """
    final = export_dir(root, key, digest, precision)
    if is_complete(final):
        agreement = Agreement.load(final / AGREEMENT_FILE)
        if agreement is not None:
            return Exported(final, precision, agreement, exported_now=False)
    if not onnx_available():
        raise ExportError("ONNX export needs the onnx and onnxruntime packages "
                          "(pip install onnx onnxruntime)")
    if precision == "int8":
        fp32 = ensure_exported(root, key, digest, "fp32", torch_encoder,
                               library_paths=library_paths, notify=notify)
    final.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(final.parent)
    tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    notify(f"exporting CLIP model {key} to ONNX Runtime {precision} (once; cached in "
           f"{final.parent})")
    try:
        enc = torch_encoder()
        if precision == "int8":
            quantize_int8(fp32.directory, tmp)
        else:
            export_fp32(enc, tmp)
        from daguerre.indexer.onnx_encoder import OnnxClipEncoder

        candidate = OnnxClipEncoder(tmp, key=key, spec=enc.spec, precision=precision)
        pixels, source = sample_pixels(enc.pixel_stage, library_paths())
        agreement = measure(enc, candidate, pixels, CHECK_TEXTS, runtime="onnx",
                            precision=precision, image_source=source)
        agreement = Agreement(**{**agreement.__dict__,
                                 "extra": {"export_seconds": round(time.monotonic() - started, 1),
                                           "onnxruntime": ort_version()}})
        agreement.save(tmp / AGREEMENT_FILE)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Exported(final, precision, agreement, exported_now=True)


def cached_status(root: Path, key: str, digest: str | None) -> dict[str, Any]:
    """What is cached for a model, without exporting anything: per precision, the directory,
    whether it is complete and the check's figures."""
    out: dict[str, Any] = {}
    for precision in PRECISIONS:
        if digest is None or not onnx_available():
            out[precision] = {"path": None, "exported": False, "agreement": None}
            continue
        d = export_dir(root, key, digest, precision)
        agreement = Agreement.load(d / AGREEMENT_FILE) if is_complete(d) else None
        out[precision] = {"path": str(d), "exported": agreement is not None,
                          "agreement": agreement.as_dict() if agreement else None}
    return out
