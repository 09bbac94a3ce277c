"""The layer arrows of the design (pyproject.toml ``[tool.importlinter]``) hold, and the check
really sees across the three folders of the ``daguerre`` namespace package.

``make test`` runs this file, so a module that imports across a forbidden arrow fails the suite
the same way it fails ``lint-imports`` in ``.ci/run``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTIONS = ("platform", "indexer", "generator")  # the folders that each hold a daguerre/


def lint_imports(*, cwd: Path, portions: Path | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the repository's contracts; with ``portions``, on the copy of the
    three folders under it instead of the editable install's."""
    env = dict(os.environ)
    flags: list[str] = []
    if portions is not None:
        # -S: no site processing, so the editable install's .pth files do not add the real
        # folders to the namespace package next to the copy's (grimp would see both); the
        # venv's packages (import-linter, grimp) come back as a plain path entry.
        flags = ["-S"]
        env["PYTHONPATH"] = os.pathsep.join(
            [str(portions / p) for p in PORTIONS] + [sysconfig.get_paths()["purelib"]])
    cmd = [sys.executable, *flags, "-c",
           "import sys; from importlinter.cli import lint_imports_command;"
           " sys.exit(lint_imports_command())",
           str(ROOT / "pyproject.toml"), "--no-cache"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_every_import_contract_is_kept():
    result = lint_imports(cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture()
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the three portions, laid out as in the repository."""
    for portion in PORTIONS:
        shutil.copytree(ROOT / portion / "daguerre", tmp_path / portion / "daguerre",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(("importer", "imported", "contract"), [
    # each arrow crosses from one folder of the namespace package into another
    ("indexer/daguerre/indexer/store.py", "daguerre.platform.errors",
     "indexer and generator are libraries: they never import the platform"),
    ("generator/daguerre/generator/metadata.py", "daguerre.indexer.decode",
     "indexer and generator never import each other"),
    ("platform/daguerre/platform/web/api/__init__.py", "daguerre.platform.cli",
     "the web layer never imports the CLI"),
])
def test_a_planted_import_across_folders_breaks_its_contract(tree_copy: Path, importer: str,
                                                             imported: str, contract: str):
    """The proof that grimp follows the namespace package over all three folders: an import
    planted in a copy of the tree, each side in another folder, is reported."""
    path = tree_copy / importer
    path.write_text(path.read_text() + f"\nimport {imported}  # planted by the test\n")
    result = lint_imports(cwd=tree_copy, portions=tree_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    module = importer.split("/", 1)[1].removesuffix(".py").removesuffix("/__init__")
    assert f"{contract} BROKEN" in result.stdout
    assert f"{module.replace('/', '.')} -> {imported}" in result.stdout
