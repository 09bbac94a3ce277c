# The two commands of the README's quick start.
.PHONY: setup run test lint lint-imports

setup:
	@scripts/setup.sh

## run: set up, then start the web app and a worker on the embedded defaults (SQLite, no broker)
run: setup
	.venv/bin/daguerre serve

## test: set up, then run the whole test suite
test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

## lint-imports: check the layer arrows (pyproject.toml [tool.importlinter]; docs/architecture.md)
lint-imports: setup
	.venv/bin/lint-imports --no-cache
