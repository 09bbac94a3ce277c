"""Output metadata: AUTOMATIC1111's ``parameters`` text chunk and a JSON provenance chunk in PNGs.

The ``parameters`` chunk is written exactly as AUTOMATIC1111 writes it, so Civitai, ComfyUI,
InvokeAI, sd-parsers and A1111's own "PNG Info" tab read our outputs; the ``daguerre`` chunk
carries the full provenance (operation, model, every parameter, versions) that the platform's
lineage also records.

A post-processed output (a restore, an x4 upscale) also carries what A1111's "Extras" tab writes:
its steps and settings as one ``Key: value, ...`` line (``Postprocess upscale by: 4, Postprocess
upscaler: ...``) in a ``postprocessing`` chunk and again in an ``extras`` chunk, beside the
``parameters`` of the image it was made from when that had some (A1111 keeps them).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PARAMETERS_KEY = "parameters"
PROVENANCE_KEY = "daguerre"
# A1111's post-processing ("Extras") writes its infotext under both names (modules/postprocessing.py
# sets image.info["postprocessing"]; images.save_image adds it as the "extras" section).
POSTPROCESSING_KEY = "postprocessing"
EXTRAS_KEY = "extras"

# AUTOMATIC1111's own expressions (modules/infotext_utils.py): a key, a colon, then either a JSON
# string (which may hold commas) or everything up to the next comma.
_RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")


def quote(value: Any) -> str:
    """A1111's quoting: values holding a comma, colon or newline become JSON strings."""
    text = _format_value(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # A1111 prints "CFG scale: 7" for a whole number
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_parameters(prompt: str, negative_prompt: str, fields: Mapping[str, Any]) -> str:
    """The ``parameters`` text: prompt, ``Negative prompt:`` line (if any), then ``Key: value, ...``.

    ``fields`` keeps its order; ``None`` values are left out, as A1111 does.
    """
    params = ", ".join(f"{k}: {quote(v)}" for k, v in fields.items() if v is not None)
    negative = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{params}".strip()


def a1111_fields(
    *, steps: int | None, sampler: str | None, guidance_scale: float | None, seed: int | None,
    width: int | None, height: int | None, model: str | None, strength: float | None = None,
    image_guidance_scale: float | None = None, extra: Mapping[str, Any] | None = None,
    model_hash: str | None = None,
) -> dict[str, Any]:
    """The generation fields in A1111's order and spelling (``Model hash`` before ``Model``,
    as A1111 writes them)."""
    fields: dict[str, Any] = {
        "Steps": steps,
        "Sampler": sampler,
        "CFG scale": guidance_scale,
        "Image CFG scale": image_guidance_scale,
        "Seed": seed,
        "Size": f"{width}x{height}" if width and height else None,
        "Model hash": model_hash,
        "Model": model,
        "Denoising strength": strength,
    }
    if extra:
        fields.update(extra)
    return fields


def format_postprocessing(fields: Mapping[str, Any]) -> str:
    """A1111's post-processing infotext: ``Key: value`` pairs joined by ``, `` (a key equal to
    its value is written alone, ``None`` values are left out, values quoted as in
    :func:`quote`)."""
    return ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in fields.items()
                     if v is not None)


def parse_parameters(text: str) -> dict[str, str]:
    """Parse an A1111 ``parameters`` chunk into a dict, as A1111's ``parse_generation_parameters``.

    Keys: ``Prompt``, ``Negative prompt`` and each ``Key`` of the last line, values as strings with
    JSON-quoted values unquoted. ``Size: 512x768`` also yields ``Size-1`` (width) and ``Size-2``.
    Prompts may span several lines; a missing negative prompt gives ``""``.
    """
    result: dict[str, str] = {}
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    *lines, last = text.strip().split("\n")
    # The last line is the parameter line only if it looks like one (A1111: at least 3 pairs).
    if len(_RE_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    in_negative = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    result["Prompt"] = "\n".join(prompt_lines)
    result["Negative prompt"] = "\n".join(negative_lines)
    for key, value in _RE_PARAM.findall(last):
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        result[key] = value
        size = _RE_IMAGESIZE.match(value)
        if size:
            result[f"{key}-1"], result[f"{key}-2"] = size.group(1), size.group(2)
    return result


def pnginfo(parameters: str | None, provenance: Mapping[str, Any] | None,
            postprocessing: str | None = None) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if parameters:
        # add_text writes tEXt when the text is Latin-1 and iTXt (UTF-8) otherwise, as A1111 does.
        info.add_text(PARAMETERS_KEY, parameters)
    if postprocessing:
        info.add_text(POSTPROCESSING_KEY, postprocessing)
        info.add_text(EXTRAS_KEY, postprocessing)
    if provenance is not None:
        info.add_text(PROVENANCE_KEY, json.dumps(provenance, sort_keys=True, ensure_ascii=True))
    return info


def save_png(
    image: Any, path: str | os.PathLike[str], parameters: str | None = None,
    provenance: Mapping[str, Any] | None = None, postprocessing: str | None = None,
) -> Path:
    """Write ``image`` as PNG with its chunks, atomically (temp file, fsync, rename).

    Without explicit ``parameters``/``provenance``/``postprocessing`` it uses those the
    generator attached to ``image.info`` (every image a pipeline or ``restore`` returns has
    them).
    """
    path = Path(path)
    if parameters is None:
        parameters = image.info.get(PARAMETERS_KEY)
    if postprocessing is None:
        postprocessing = image.info.get(POSTPROCESSING_KEY)
    if provenance is None:
        raw = image.info.get(PROVENANCE_KEY)
        provenance = json.loads(raw) if isinstance(raw, str) else raw
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _new_file_mode())  # mkstemp's 0600 would hide outputs from other users
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, format="PNG", pnginfo=pnginfo(parameters, provenance, postprocessing))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the umask, read from /proc rather than
    by setting the umask (which would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def read_png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """Every text chunk of a PNG (``parameters``, ``postprocessing``, ``daguerre``, ...)."""
    from PIL import Image

    with Image.open(path) as im:
        return dict(getattr(im, "text", {}) or {})


def read_png_metadata(path: str | os.PathLike[str]) -> tuple[str | None, dict[str, Any] | None]:
    """``(parameters text, provenance dict)`` from a PNG; ``None`` for a chunk that is absent."""
    text = read_png_text(path)
    raw = text.get(PROVENANCE_KEY)
    provenance = None
    if raw:
        try:
            provenance = json.loads(raw)
        except ValueError:
            provenance = None
    return text.get(PARAMETERS_KEY), provenance


def attach(image: Any, parameters: str | None, provenance: Mapping[str, Any],
           postprocessing: str | None = None) -> Any:
    """Record metadata on ``image.info`` so ``save_png`` (and the platform) can write it later."""
    if parameters:
        image.info[PARAMETERS_KEY] = parameters
    if postprocessing:
        image.info[POSTPROCESSING_KEY] = postprocessing
    image.info[PROVENANCE_KEY] = dict(provenance)
    return image


def library_versions() -> dict[str, str]:
    """Versions that matter for reproducing an output."""
    from importlib import metadata as md

    out: dict[str, str] = {}
    for dist in ("daguerre", "diffusers", "torch", "transformers", "opencv-python-headless"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out
