"""`daguerre models list|info|pull`."""

from __future__ import annotations

import json

import click
from daguerre.platform.cli import get_context


def model_info(app) -> dict:  # noqa: ANN001
    from daguerre.indexer.models import model_key, weights_status

    spec = app.clip_spec
    status = weights_status(spec)
    info = {"task": "clip", "model": spec.model, "weights": spec.weights,
            "weights_source": status["source"], "weights_location": status["location"],
            "weights_present": status["present"], "device": app.settings.device}
    try:
        info["model_key"] = model_key(spec)
    except OSError:
        info["model_key"] = None
    return info


@click.group("models")
def models() -> None:
    """Inspect and fetch model weights."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """The configured models and whether their weights are present."""
    rows = [model_info(get_context(ctx))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        present = "present" if r["weights_present"] else "MISSING"
        click.echo(f"{r['task']:<8} {r['model']} / {r['weights']}  [{present}]")


@models.command("info")
@click.pass_context
def models_info(ctx: click.Context) -> None:
    """Details of the configured CLIP model (JSON)."""
    click.echo(json.dumps(model_info(get_context(ctx)), indent=2))


@models.command("pull")
@click.pass_context
def models_pull(ctx: click.Context) -> None:
    """Download and cache the configured weights now (needs internet access)."""
    from daguerre.indexer.models import resolve_weights

    path = resolve_weights(get_context(ctx).clip_spec, download=True)
    click.echo(f"weights ready: {path}")


def register(group: click.Group) -> None:
    group.add_command(models)
