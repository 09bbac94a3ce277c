"""`daguerre export`: a selection of images, or a board, as a zip on disk.

The same archive as ``POST /api/v1/export`` (:func:`daguerre.platform.services.export.export_zip`
checks everything before writing): files, XMP sidecars, ``metadata.json``. It is written to a
temporary file beside the target and renamed when complete, so an interrupted export never
leaves a half zip under the name asked for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from daguerre.platform.cli import get_context


@click.command("export")
@click.argument("image_ids", type=int, nargs=-1)
@click.option("--board", "-b", help="Export this board (collection name or id) instead.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              required=True, help="The zip file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print {file, images, bytes} as JSON.")
@click.pass_context
def export(ctx: click.Context, image_ids: tuple[int, ...], board: str | None, output: Path,
           as_json: bool) -> None:
    """Write the images IMAGE_IDS (or --board's active images) to a zip: each file as stored,
    an XMP sidecar per image (rating and tags, which darktable and digiKam read) and
    metadata.json (tags, rating, review state, lineage, generation parameters)."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.export import export_zip

    if bool(image_ids) == (board is not None):
        raise BadInput("give image ids or --board (one of them)", field="--board")
    found = export_zip(get_context(ctx), ids=list(image_ids) if image_ids else None,
                       board=board)
    output = output.expanduser()
    tmp = output.with_name(f".{output.name}.{os.getpid()}.part")
    written = 0
    try:
        with open(tmp, "wb") as fh:
            for chunk in found:
                fh.write(chunk)
                written += len(chunk)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    if as_json:
        click.echo(json.dumps({"file": str(output), "images": found.count, "bytes": written}))
    else:
        click.echo(f"wrote {found.count} image(s) to {output} ({written} bytes)")


def register(group: click.Group) -> None:
    group.add_command(export)
