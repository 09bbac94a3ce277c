"""`daguerre index`: bring libraries' catalog entries and vectors up to date."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context
from daguerre.platform.cli.progress import Progress

COUNT_KEYS = ("added", "updated", "unchanged", "moved", "missing", "failed")


def combine(summaries: list[dict]) -> dict:
    out = {k: sum(s[k] for s in summaries) for k in COUNT_KEYS}
    out["failures"] = [f for s in summaries for f in s["failures"]]
    # The CLIP runtime and precision that embedded the files (null when nothing needed it).
    used = next((s for s in summaries if s.get("runtime")), {})
    out["runtime"], out["precision"] = used.get("runtime"), used.get("precision")
    out["libraries"] = summaries
    return out


@click.command("index")
@click.argument("library", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--rebuild", is_flag=True,
              help="Rebuild the vector index from the stored embeddings (no re-encoding).")
@click.option("--async", "run_async", is_flag=True,
              help="Queue an index job per library for the workers and print the job ids.")
@click.pass_context
def index(ctx: click.Context, library: str | None, as_json: bool, rebuild: bool,
          run_async: bool) -> None:
    """Index LIBRARY (a name or id; default: every library).

    Incremental: unchanged files are skipped, changed files re-embedded, moved files keep their
    id, vanished files are marked missing. Unreadable files are reported and skipped.
    """
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.indexing import index_library
    from daguerre.platform.services.libraries import list_libraries

    app = get_context(ctx)
    # A named library is looked up by the service (NotFound names it), here or in the job.
    names = [library] if library else [r["name"] for r in list_libraries(app)]
    if not names:
        raise BadInput("no libraries to index: add one with `daguerre library add PATH`")
    if run_async:
        enqueue_index_jobs(app, names, as_json, rebuild)
        return
    summaries = []
    for name in names:
        with Progress(name, quiet=as_json, unit="img") as bar:
            summaries.append(index_library(app, name, progress=bar).as_dict())
    if rebuild:
        store = app.store()
        with store.edit() as st:
            st.rebuild()
        if not as_json:
            click.echo(f"rebuilt vector index: {len(store)} vectors, {store.index_type}")
    result = combine(summaries)
    if as_json:
        click.echo(json.dumps(result))
        return
    if result["runtime"]:
        name = {"onnx": "ONNX Runtime", "torch": "torch"}.get(result["runtime"], result["runtime"])
        click.echo(f"CLIP on {name} {result['precision']}")
    for s in summaries:
        counts = ", ".join(f"{s[k]} {k}" for k in COUNT_KEYS)
        click.echo(f"{s['library']}: {counts} ({s['seconds']:.1f} s)")
        for f in s["failures"]:
            click.echo(f"  failed: {f['path']}: {f['reason']}")


def enqueue_index_jobs(app, names: list[str], as_json: bool, rebuild: bool) -> None:  # noqa: ANN001
    """`index --async`: one queued job per library; prints the ids (or the jobs as JSON)."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.jobs import Jobs

    if rebuild:
        raise BadInput("--rebuild runs inline; use it without --async")
    created = [Jobs(app).create("index", {"library": name}) for name in names]
    if as_json:
        click.echo(json.dumps(created if len(created) > 1 else created[0]))
        return
    for job in created:
        click.echo(job["id"])


def register(group: click.Group) -> None:
    group.add_command(index)
