"""`daguerre classify`: zero-shot tags from the CLIP model, stored as model tags."""

from __future__ import annotations

import json

import click

from daguerre.platform.cli import get_context
from daguerre.platform.cli.progress import Progress


@click.command("classify")
@click.argument("library", required=False)
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False),
              help="Label file: one label per line, # comments (default: the built-in set "
                   "for photo libraries).")
@click.option("--template", "templates", multiple=True,
              help="Prompt template with {} for the label; repeat for an ensemble (default: "
                   "'a photo of a {}.' and similar photo prompts).")
@click.option("--top", "-k", default=3, show_default=True, type=click.IntRange(min=1),
              help="At most this many labels per image.")
@click.option("--min-prob", default=0.1, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Only labels with at least this probability become tags.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: counts and, per image, its labels and scores.")
@click.option("--async", "run_async", is_flag=True,
              help="Queue a classify job for the workers and print its id.")
@click.pass_context
def classify(ctx: click.Context, library: str | None, labels_file: str | None,
             templates: tuple[str, ...], top: int, min_prob: float, as_json: bool,
             run_async: bool) -> None:
    """Tag the images of LIBRARY (default: all libraries) zero-shot with the CLIP model.

    Each label is scored against the stored image embeddings with a prompt ensemble
    (several templates averaged, as in CLIP's zero-shot evaluation); probabilities are a
    softmax over the labels with the model's logit scale. The results are stored as tags
    with source `model` and their probability: running classify again replaces the model
    tags of the images it classifies and never touches tags a person set
    (`daguerre tags`). Search them with `daguerre search ... --tag LABEL`.
    """
    from daguerre.indexer.classify import LabelError, load_labels
    from daguerre.platform.errors import BadInput
    from daguerre.platform.services.tags import classify as run

    try:
        labels = load_labels(labels_file) if labels_file else None
    except LabelError as exc:
        raise BadInput(str(exc), field="labels", value=labels_file) from None
    app = get_context(ctx)
    if run_async:
        from daguerre.platform.cli.jobs import enqueue

        enqueue(app, "classify", {"library": library, "labels": labels,
                                  "templates": list(templates) or None, "top": top,
                                  "threshold": min_prob}, as_json)
        return
    with Progress("classify", quiet=as_json, unit="img") as bar:
        summary = run(app, library, labels=labels, templates=list(templates) or None, top=top,
                      min_prob=min_prob, progress=bar)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    for r in summary.results:
        labels_text = ", ".join(f"{x['label']} ({x['score']:.2f})" for x in r["labels"]) or "-"
        click.echo(f"#{r['id']:<7} {labels_text}  {r['path']}")
    click.echo(f"classified {summary.classified} images with {summary.labels} labels: "
               f"{summary.tagged} model tags" +
               (f", {summary.skipped} not indexed yet (run `daguerre index`)"
                if summary.skipped else ""))


def register(group: click.Group) -> None:
    group.add_command(classify)
