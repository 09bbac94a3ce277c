"""Loading a job's source image: full resolution, EXIF orientation applied, limits enforced.

Every failure (missing file, corrupt data, a decompression bomb, too many pixels) is a BadInput
that names the image, so one bad photo fails alone in a batch.
"""

from __future__ import annotations

from typing import Any

from daguerre.platform.context import Context
from daguerre.platform.errors import BadInput, DaguerreError
from daguerre.platform.services.generation.targets import source_path


def load_source(ctx: Context, image_id: int, field: str = "image_id") -> Any:
    """The full-resolution RGB PIL image of catalog image ``image_id`` (EXIF orientation
    applied), with the A1111 ``parameters`` text it carried, if any, in its ``info`` (a restore
    keeps them, as A1111's post-processing does). Raises BadInput with the reason for a
    missing, corrupt or oversized file."""
    import warnings

    from PIL import Image as PILImage
    from PIL import ImageOps

    from daguerre.indexer.decode import to_rgb

    path = source_path(ctx, image_id, field)
    limit = ctx.settings.max_image_pixels

    def refuse(reason: str) -> BadInput:
        return BadInput(f"image {image_id}{reason}", field=field, value=image_id)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            PILImage.MAX_IMAGE_PIXELS = limit
            with PILImage.open(path) as im:
                if limit and im.width * im.height > limit:
                    raise refuse(f" ({path.name}): {im.width}x{im.height} pixels is over the "
                                 f"limit of {limit}")
                im.load()
                parameters = (getattr(im, "text", None) or {}).get("parameters")
                # 16-bit scans and transparent PNGs: Pillow's convert("RGB") would make them
                # black (or clip them); to_rgb converts them as the indexer did for search.
                rgb = to_rgb(ImageOps.exif_transpose(im))
                if isinstance(parameters, str):
                    rgb.info["parameters"] = parameters
                return rgb
    except DaguerreError:
        raise
    except FileNotFoundError:
        raise refuse(f": file {path} is missing") from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise refuse(f" ({path.name}): decompression bomb refused: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise refuse(f" ({path.name}): corrupt or unreadable image: "
                     f"{exc or type(exc).__name__}") from None
