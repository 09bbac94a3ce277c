"""`daguerre library add|list|rename|move|remove`: thin commands over services/libraries.py.

Each command parses its arguments, calls one service function and prints the result; the rules
(which folders, which names, what removal deletes) live in the service, shared with the API.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from daguerre.platform.cli import get_context
from daguerre.platform.errors import BadInput


def _absolute(path: str) -> str:
    # A relative path means the user's working folder here; the service takes absolute paths
    # only (and resolves links and `..` itself, so this joins without normalising).
    return os.path.join(os.getcwd(), os.path.expanduser(path))


def _on_terminal() -> bool:
    return sys.stdin.isatty()


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


@click.group("library")
def library() -> None:
    """Manage libraries: read-only folders of photos."""


@library.command("add")
@click.argument("path", type=click.Path())
@click.option("--name", help="Name of the library (default: the folder's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the new library as JSON.")
@click.pass_context
def library_add(ctx: click.Context, path: str, name: str | None, as_json: bool) -> None:
    """Add the folder PATH as a library (its files are never modified).

    A system folder (/, /etc, /usr, ...) or a folder inside the data directory is refused."""
    from daguerre.platform.services.libraries import add_library

    lib = add_library(get_context(ctx), _absolute(path), name)
    if as_json:
        _echo_json(lib)
    else:
        click.echo(f"added library {lib['name']} (id {lib['id']}) at {lib['root']}")


@library.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def library_list(ctx: click.Context, as_json: bool) -> None:
    """List libraries with their counts of active images."""
    from daguerre.platform.services.libraries import list_libraries

    rows = list_libraries(get_context(ctx))
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no libraries yet: add one with `daguerre library add PATH`")
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['name']:<24} {r['images']:>8} images  {r['root']}")


@library.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print the renamed library as JSON.")
@click.pass_context
def library_rename(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """Rename library OLD (a name or id) to NEW."""
    from daguerre.platform.services.libraries import rename_library

    lib = rename_library(get_context(ctx), old, new)
    if as_json:
        _echo_json(lib)
    else:
        click.echo(f"renamed library {old} to {lib['name']} (id {lib['id']})")


@library.command("move")
@click.argument("name")
@click.argument("new_root", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def library_move(ctx: click.Context, name: str, new_root: str, as_json: bool) -> None:
    """Point library NAME at NEW_ROOT, where its folder now is (a disk moved or remounted).

    Images found under the new root keep their ids, tags, ratings and vectors; the others
    stay in the catalog and the next `daguerre index` marks them missing."""
    from daguerre.platform.services.libraries import move_library

    out = move_library(get_context(ctx), name, _absolute(new_root))
    if as_json:
        _echo_json(out)
        return
    lib = out["library"]
    click.echo(f"moved library {lib['name']} to {lib['root']}: {out['found']} images found, "
               f"{out['not_found']} not found")
    if out["not_found"]:
        click.echo("run `daguerre index` to mark the images not found as missing")


@library.command("remove")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_context
def library_remove(ctx: click.Context, name: str, yes: bool, as_json: bool) -> None:
    """Remove library NAME from Daguerre: its catalog entries, vectors and thumbnails.

    The photos in its folder are never touched. Images generated from them stay, and their
    lineage records which photo they came from. Asks first on a terminal; --yes skips that."""
    from daguerre.platform.services.libraries import get_library, remove_library

    app = get_context(ctx)
    if not yes:
        if not _on_terminal():
            raise BadInput(f"not removing library {name!r} without confirmation: pass --yes",
                           field="yes")
        lib = get_library(app, name)
        click.confirm(f"Remove library {lib['name']} ({lib['images']} active images, "
                      f"{lib['root']}) from Daguerre? Its files stay on disk", abort=True)
    out = remove_library(app, name)
    if as_json:
        _echo_json(out)
        return
    click.echo(f"removed library {out['name']}: {out['images']} images, {out['vectors']} "
               f"vectors, {out['thumbnails']} thumbnails; its files in {out['root']} are "
               f"untouched")
    if out["kept_children"]:
        click.echo(f"{out['kept_children']} generated images made from its photos are kept")


def register(group: click.Group) -> None:
    group.add_command(library)
