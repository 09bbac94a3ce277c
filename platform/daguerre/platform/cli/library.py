"""`daguerre library add|list`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import func, select

from daguerre.platform.cli import get_context
from daguerre.platform.errors import UserError


def add_library(ctx, path: str, name: str | None):  # noqa: ANN001, ANN201
    from daguerre.platform.catalog.models import Library

    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"library root {path!r} is not a folder")
    name = name or root.name
    with ctx.catalog.session() as s:
        clash = s.scalar(select(Library).where((Library.root == str(root)) | (Library.name == name)))
        if clash is not None:
            what = "root" if clash.root == str(root) else "name"
            raise UserError(f"a library with that {what} exists already: {clash.name} ({clash.root})")
        lib = Library(name=name, root=str(root))
        s.add(lib)
        s.flush()
        return lib


def list_libraries(ctx) -> list[dict]:  # noqa: ANN001
    from daguerre.platform.catalog.models import Image, ImageStatus, Library

    with ctx.catalog.session() as s:
        counts = dict(s.execute(
            select(Image.library_id, func.count()).where(Image.status == ImageStatus.ACTIVE)
            .group_by(Image.library_id)).all())
        return [{"id": lib.id, "name": lib.name, "root": lib.root,
                 "images": counts.get(lib.id, 0),
                 "last_indexed_at": lib.last_indexed_at.isoformat() if lib.last_indexed_at else None}
                for lib in s.scalars(select(Library).order_by(Library.id))]


@click.group("library")
def library() -> None:
    """Manage libraries: read-only folders of photos."""


@library.command("add")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", help="Name of the library (default: the folder's name).")
@click.pass_context
def library_add(ctx: click.Context, path: str, name: str | None) -> None:
    """Add the folder PATH as a library (its files are never modified)."""
    lib = add_library(get_context(ctx), path, name)
    click.echo(f"added library {lib.name} (id {lib.id}) at {lib.root}")


@library.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def library_list(ctx: click.Context, as_json: bool) -> None:
    """List libraries with their image counts."""
    rows = list_libraries(get_context(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no libraries yet: add one with `daguerre library add PATH`")
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['name']:<24} {r['images']:>8} images  {r['root']}")


def register(group: click.Group) -> None:
    group.add_command(library)
