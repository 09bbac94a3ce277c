"""The `daguerre` command line. One module per area registers its commands on :data:`main`.

Errors a user can act on (bad configuration, missing weights, bad input) are printed as one
line with the exit status of :mod:`.errors`; nothing else is caught, so a bug still shows its
traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# Each module defines `register(group)`; listed here so `daguerre --help` shows every command.
COMMAND_MODULES = (
    "daguerre.platform.cli.library",
    "daguerre.platform.cli.index",
    "daguerre.platform.cli.search",
    "daguerre.platform.cli.models",
    "daguerre.platform.cli.tokens",
    "daguerre.platform.cli.users",
    "daguerre.platform.cli.jobs",
    "daguerre.platform.cli.generate",
    "daguerre.platform.cli.classify",
    "daguerre.platform.cli.tags",
    "daguerre.platform.cli.collections",
    "daguerre.platform.cli.duplicates",
    "daguerre.platform.cli.images",
    "daguerre.platform.cli.export",
    "daguerre.platform.cli.vectors",
)


class DaguerreGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from daguerre.platform.cli.errors import exit_status

        try:
            return super().invoke(ctx)
        except Exception as exc:
            status = exit_status(exc)
            if status is None:
                raise
            click.echo(f"daguerre: error: {exc}", err=True)
            sys.exit(status)


def get_context(ctx: click.Context):  # noqa: ANN201 - daguerre.platform.context.Context
    """The application context, created on first use so `--help` stays fast."""
    root = ctx.find_root()
    if root.obj is None:
        from daguerre.platform.context import Context

        root.obj = Context()
        root.call_on_close(root.obj.close)
    return root.obj


@click.group(cls=DaguerreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daguerre")
def main() -> None:
    """Daguerre: index photo libraries with CLIP, search them, restore and generate images.

    Configuration comes from DAGUERRE_* environment variables (DAGUERRE_HOME,
    DAGUERRE_DATABASE_URL, DAGUERRE_CLIP_MODEL, DAGUERRE_CLIP_WEIGHTS, DAGUERRE_DEVICE, ...) or
    a TOML file (DAGUERRE_CONFIG, or daguerre.toml in the data directory).
    """


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
