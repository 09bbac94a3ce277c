"""`daguerre vectors status|migrate`: where the vectors live (FAISS files or the catalog's
pgvector) and moving them between the two without re-encoding."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context
from daguerre.platform.cli.progress import Progress


@click.group("vectors")
def vectors() -> None:
    """Show or move the vector stores (FAISS files or PostgreSQL with pgvector)."""


def _params(m: dict) -> str:
    if m["backend"] == "pgvector":
        if m["index_type"] == "HNSW":
            return (f"m={m['m']} ef_construction={m['ef_construction']} "
                    f"ef_search={m['ef_search']}")
        return "exact scan"
    if m["index_type"] == "Flat":
        return "exact scan"
    recall = m.get("measured_recall_at_10")
    return f"nprobe={m['nprobe']}" + (f" recall@10={recall}" if recall is not None else "")


@vectors.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def vectors_status(ctx: click.Context, as_json: bool) -> None:
    """The backend in use and why, and every model's store: vectors, index type, parameters."""
    from daguerre.platform.services.vectors import status

    info = status(get_context(ctx))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"backend: {info['backend'] or 'unavailable'} ({info['reason']})")
    pg = info["pgvector"]
    click.echo(f"catalog: {info['catalog']}; pgvector: "
               + (pg["version"] if pg["available"] else f"not available: {pg['reason']}"))
    if not info["models"]:
        click.echo("no vectors stored yet")
    for m in info["models"]:
        mark = "*" if m["in_use"] else " "
        click.echo(f"{mark} {m['backend']:<8} {m['model_key']}: {m['count']} vectors, dim "
                   f"{m['dim']}, {m['index_type']} ({_params(m)})")
    if any(m["in_use"] for m in info["models"]):
        click.echo("(* the configured model's store in use)")


@vectors.command("migrate")
@click.option("--to", "to", required=True, type=click.Choice(["pgvector", "faiss"]),
              help="The backend to move the vectors into.")
@click.option("--batch", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Vectors per batch (each batch is one write; a re-run skips copied ones).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_context
def vectors_migrate(ctx: click.Context, to: str, batch: int, as_json: bool) -> None:
    """Copy every model's stored embeddings into the other backend (no re-encoding), then set
    vector_store in the settings file. Resumable: run it again after an interruption.
    Restart the web app and workers afterwards."""
    from daguerre.platform.services.vectors import migrate

    bars: list[Progress] = []

    def progress(model_key: str) -> Progress:
        bar = Progress(model_key[:40], quiet=as_json, unit="vec")
        bars.append(bar)
        return bar

    try:
        result = migrate(get_context(ctx), to, batch=batch, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if as_json:
        click.echo(json.dumps(result))
        return
    for r in result["models"]:
        line = (f"{r['model_key']}: {r['copied']} copied, {r['skipped']} already there, "
                f"{r['removed']} removed")
        if r["orphans"]:
            line += f", {r['orphans']} without a catalog image left out"
        click.echo(line)
    if not result["models"]:
        click.echo(f"no vectors to move; vectors will be stored in {to} from now on")
    click.echo(f"vector_store = {to!r} written to {result['settings_file']}")
    if result["overridden_by"]:
        click.echo(f"warning: {result['overridden_by']} in the environment overrides that file: "
                   f"set {result['overridden_by']}={to}", err=True)
    click.echo("restart the web app and the workers to use it")


def register(group: click.Group) -> None:
    group.add_command(vectors)
