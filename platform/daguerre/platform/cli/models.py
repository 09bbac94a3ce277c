"""`daguerre models list|info|pull`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from daguerre.platform.cli import get_context
from daguerre.platform.config import Settings


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
    info["runtime"] = clip_runtime_info(app)
    return info


def clip_runtime_info(app) -> dict:  # noqa: ANN001
    """The CLIP runtime and precision the settings lead to, from what is exported (nothing is
    exported or loaded here): cache paths and the agreement check's figures per precision."""
    from daguerre.indexer.models import ModelError, runtime_status

    s = app.settings
    try:
        return runtime_status(app.clip_spec, s.device, runtime=s.clip_runtime,
                              precision=s.clip_precision, cache_root=s.onnx_cache_dir)
    except (ModelError, OSError) as exc:
        return {"runtime_setting": s.clip_runtime, "precision_setting": s.clip_precision,
                "error": str(exc)}


def diffusion_info(settings: Settings, task: str) -> dict:
    """The configured diffusion model of ``task`` (its ``<task>_model`` setting) and whether its
    weights are here (no network: a local directory, or the Hugging Face cache)."""
    from daguerre.platform.config import env_var, model_setting

    model = settings.diffusion_model(task)
    local = Path(model).expanduser()
    if local.is_dir() or model.startswith((".", "/", "~")):
        present = (local / "model_index.json").is_file()
        source, location = "local directory", str(local)
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            found = try_to_load_from_cache(model, "model_index.json")
        except Exception:  # noqa: BLE001 - a malformed repo id is simply not present
            found = None
        present = isinstance(found, str)
        source = "Hugging Face cache"
        location = str(Path(found).parent) if present else None
    return {"task": task, "model": model, "weights": None, "weights_source": source,
            "weights_location": location, "weights_present": present,
            "configured_by": env_var(model_setting(task))}


def all_info(app) -> list[dict]:  # noqa: ANN001
    from daguerre.generator import TASKS

    return [model_info(app)] + [diffusion_info(app.settings, task) for task in TASKS]


@click.group("models")
def models() -> None:
    """Inspect and fetch model weights."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """The configured models and whether their weights are present."""
    rows = all_info(get_context(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        present = "present" if r["weights_present"] else "MISSING"
        name = f"{r['model']} / {r['weights']}" if r["weights"] else r["model"]
        click.echo(f"{r['task']:<10} {name}  [{present}]")


TASK_CHOICES = ("clip", "generate", "translate", "inpaint", "edit", "upscale")


@models.command("info")
@click.option("--task", type=click.Choice(TASK_CHOICES),
              help="Only this model (default: every configured model).")
@click.pass_context
def models_info(ctx: click.Context, task: str | None) -> None:
    """Details of the configured models (JSON): CLIP and each diffusion task's."""
    rows = all_info(get_context(ctx))
    if task is not None:
        click.echo(json.dumps(next(r for r in rows if r["task"] == task), indent=2))
        return
    click.echo(json.dumps(rows, indent=2))


@models.command("export")
@click.option("--precision", type=click.Choice(("fp32", "int8")), default=None,
              help="Precision to export (default: DAGUERRE_CLIP_PRECISION, int8).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def models_export(ctx: click.Context, precision: str | None, as_json: bool) -> None:
    """Export the CLIP model to ONNX Runtime now and check it against torch fp32.

    Exported once per model, weights, precision and ONNX Runtime version (cached under the data
    directory); an index or search would otherwise export on first use. The check runs on the
    libraries' own photos when there are some, else on bundled sample photos. A precision that
    fails the check is kept, with its figures, and refused when the encoder loads.
    """
    from daguerre.indexer.models import ModelError, model_key, resolve_weights
    from daguerre.indexer.onnx_export import (
        ExportError,
        ensure_exported,
        onnx_available,
        weights_digest,
    )
    from daguerre.platform.context import notify
    from daguerre.platform.errors import BadInput
    from daguerre.platform.hub import clip_download_blocker

    app = get_context(ctx)
    s = app.settings
    precision = precision or s.clip_precision
    if not onnx_available():
        raise BadInput("ONNX export needs the onnx and onnxruntime packages "
                       "(pip install onnx onnxruntime)")
    spec = app.clip_spec
    blocked = clip_download_blocker(spec, offline=s.offline)
    try:
        checkpoint = resolve_weights(spec, download=blocked is None,
                                     offline_reason=blocked or "downloads disabled")
        from daguerre.indexer.models import load_clip

        torch_cpu: list = []

        def torch_encoder():  # noqa: ANN202
            if not torch_cpu:
                torch_cpu.append(load_clip(spec, "cpu", download=False))
            return torch_cpu[0]

        exported = ensure_exported(s.onnx_cache_dir, model_key(spec), weights_digest(checkpoint),
                                   precision, torch_encoder,
                                   library_paths=app.sample_image_paths, notify=notify)
    except ExportError as exc:
        raise ModelError(str(exc)) from None
    a = exported.agreement
    result = {"precision": precision, "path": str(exported.directory),
              "exported_now": exported.exported_now, "agreement": a.as_dict()}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    verdict = ("passes: shares the library's vectors with torch fp32" if a.passes() else
               "FAILS the check: refused for this model, ONNX Runtime fp32 or torch is used")
    click.echo(f"{'exported' if exported.exported_now else 'already exported'}: "
               f"{exported.directory}")
    click.echo(f"check ({a.image_source} images): {a.describe()}")
    click.echo(f"{precision}: {verdict}")


@models.command("pull")
@click.option("--task", "tasks", multiple=True, type=click.Choice(TASK_CHOICES),
              help="Only this model (repeatable; default: all of them, several GB each).")
@click.pass_context
def models_pull(ctx: click.Context, tasks: tuple[str, ...]) -> None:
    """Download and cache the configured weights now (needs internet access).

    Every requested model is tried; those that could not be made ready are listed at the end
    and the command exits with status 2.
    """
    from daguerre.indexer.models import ModelError, resolve_weights
    from daguerre.platform.errors import BadInput
    from daguerre.platform.hub import clip_download_blocker

    settings = get_context(ctx).settings
    failed: dict[str, str] = {}
    ready: dict[str, bool] = {}  # diffusion models tried so far
    for task in dict.fromkeys(tasks or TASK_CHOICES):
        try:
            if task == "clip":
                spec = get_context(ctx).clip_spec
                blocked = clip_download_blocker(spec, offline=settings.offline)
                path = resolve_weights(spec, download=blocked is None,
                                       offline_reason=blocked or "downloads disabled")
            else:
                info = diffusion_info(settings, task)
                model = info["model"]
                if model in ready:  # tasks often share a model (generate and translate)
                    if not ready[model]:
                        raise BadInput(f"{model}: as above")
                    path = f"{model} (as above)"
                else:
                    ready[model] = False
                    if info["weights_source"] == "local directory":
                        path = _check_local_pipeline(info)
                    else:
                        click.echo(f"{task}: downloading {model} ...")
                        path = pull_diffusion(model, task, offline=settings.offline)
                    ready[model] = True
        except (ModelError, BadInput) as exc:
            failed[task] = str(exc)
            click.echo(f"{task}: FAILED: {exc}", err=True)
            continue
        click.echo(f"{task}: weights ready: {path}")
    if failed:
        raise BadInput(f"{len(failed)} of the requested models are not ready: "
                        f"{', '.join(failed)} (reasons above)")


def _check_local_pipeline(info: dict) -> str:
    """A configured local diffusion directory needs no download, only to be complete."""
    from daguerre.platform.errors import BadInput

    if info["weights_present"]:
        return str(info["weights_location"])
    where = info["weights_location"]
    problem = ("does not exist" if not Path(where).is_dir()
               else "has no model_index.json (not a diffusers save_pretrained directory)")
    raise BadInput(f"{info['configured_by']}={where} {problem}; point it at a saved pipeline, "
                    "or at a Hugging Face repo id to download one")


def pull_diffusion(model: str, task: str, *, offline: bool = False) -> str:
    """Fetch a diffusers pipeline's files into the Hugging Face cache (no model is loaded)."""
    from daguerre.platform.errors import BadInput
    from daguerre.platform.hub import unreachable
    from daguerre.platform.services.generation.operations import model_unavailable

    blocked = unreachable(offline=offline)
    if blocked:
        raise BadInput(model_unavailable(model, task, f"cannot download: {blocked}"))
    try:
        from diffusers import DiffusionPipeline

        return str(DiffusionPipeline.download(model))
    except Exception as exc:  # noqa: BLE001 - network, auth and repo errors all end here
        raise BadInput(model_unavailable(model, task, f"download failed: "
                                         f"{type(exc).__name__}: {str(exc)[:300]}")) from None


def register(group: click.Group) -> None:
    group.add_command(models)
