"""A CLIP encoder that runs an exported model (see onnx_export.py) on ONNX Runtime's CPU provider.

Same interface as :class:`~daguerre.indexer.encoder.ClipEncoder` and the same preprocessing
(open_clip's own transform rebuilt from the config the export recorded, split the same way, and
open_clip's tokenizer), so the two are interchangeable wherever an encoder is used. The torch
model is not built: a process that loads the ONNX model skips reading the torch weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daguerre.indexer.encoder import PixelStage, split_preprocess

if TYPE_CHECKING:
    from PIL import Image

    from daguerre.indexer.models import ClipSpec

IMAGE_FILE = "image.onnx"
TEXT_FILE = "text.onnx"
META_FILE = "meta.json"


def session_options(threads: int) -> Any:
    """ONNX Runtime options for one tower: ``threads`` intra-op threads (0: one per physical
    core, ONNX Runtime's default), no spinning when idle."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(0, int(threads))
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Indexing shares the CPU with the decode processes: threads that spin between batches would
    # take cycles the decoders need (the encoder is idle while it waits for the next batch).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


@dataclass
class OnnxClipEncoder:
    """Encodes images and text with an exported CLIP model. ``key`` names its embedding space
    (the torch model's key: vectors of a runtime that passed the agreement check share the
    store)."""

    directory: Path
    key: str
    spec: ClipSpec
    precision: str  # fp32 | int8
    threads: int = 0
    runtime: str = field(default="onnx", init=False)
    pixel_stage: PixelStage = field(init=False)
    dim: int = field(init=False)
    # Indexing runs ``streams`` batches at once, each on one thread of the image tower, instead
    # of one batch on ``threads`` intra-op threads: no barrier between the threads of an
    # operator, so the cores stay busy (model only, ViT-B-32 int8 on two cores: 92 against 84
    # images/s) and the decode threads fill the gaps. Batches of 8 cost the same per image as
    # 32 on ONNX Runtime's CPU provider and keep the pipeline's fill and drain short.
    streams: int = field(init=False)
    preferred_batch: int = field(default=8, init=False)
    tokenizer: Any = field(init=False, repr=False)
    _meta: dict[str, Any] = field(init=False, repr=False)
    _image: Any = field(init=False, repr=False)
    _text: Any = field(init=False, repr=False)
    _mean: np.ndarray = field(init=False, repr=False)
    _scale: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort
        import open_clip
        from open_clip.transform import PreprocessCfg, image_transform_v2

        self._meta = json.loads((self.directory / META_FILE).read_text())
        cfg = dict(self._meta["preprocess"])
        cfg["size"] = tuple(cfg["size"]) if isinstance(cfg["size"], list) else cfg["size"]
        self.pixel_stage, mean, std = split_preprocess(
            image_transform_v2(PreprocessCfg(**cfg), is_train=False))
        # (x / 255 - mean) / std as one multiply-add per pixel.
        std_arr = np.asarray(std, dtype=np.float32)
        self._scale = (1.0 / (255.0 * std_arr)).reshape(1, 3, 1, 1)
        self._mean = (np.asarray(mean, dtype=np.float32) / std_arr).reshape(1, 3, 1, 1)
        self.tokenizer = open_clip.get_tokenizer(self._meta["arch"])
        providers = ["CPUExecutionProvider"]
        self.streams = self.threads or len(os.sched_getaffinity(0))
        # InferenceSession.run is safe to call from several threads at once.
        self._image = ort.InferenceSession(str(self.directory / IMAGE_FILE),
                                           session_options(1), providers=providers)
        # A text query is one short sequence: its latency is what a search waits for, so the
        # text tower keeps intra-op threads.
        self._text = ort.InferenceSession(str(self.directory / TEXT_FILE),
                                          session_options(self.threads), providers=providers)
        self.dim = int(self._meta["dim"])

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def image_size(self) -> int:
        """The shorter side of the model's input (what draft decoding must still cover)."""
        size = self._meta["image_size"]
        return int(min(size) if isinstance(size, list | tuple) else size)

    @property
    def logit_scale(self) -> float:
        return float(self._meta["logit_scale"])

    @staticmethod
    def _normalise(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    def encode_pixels(self, pixels: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Embed uint8 arrays produced by :attr:`pixel_stage` (n, H, W, 3) -> (n, dim)."""
        batch = np.stack(pixels) if not isinstance(pixels, np.ndarray) else pixels
        x = batch.transpose(0, 3, 1, 2).astype(np.float32)
        x = x * self._scale - self._mean
        return self._normalise(self._image.run(None, {"pixels": np.ascontiguousarray(x)})[0])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed PIL images (already oriented and RGB-convertible)."""
        return self.encode_pixels([self.pixel_stage(im) for im in images])

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts)).numpy().astype(np.int64, copy=False)
        return self._normalise(self._text.run(None, {"tokens": tokens})[0])
