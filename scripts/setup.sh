#!/usr/bin/env bash
# Create .venv at the repository root and install Daguerre with its test tools.
# Idempotent: re-running only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# PyTorch first, from an exact spec: on this project's machines pip takes these from local disk
# (a bare `torch` would pull a multi-GB CUDA build from the network). Override for other
# machines, e.g. TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.daguerre-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  # shellcheck disable=SC2086
  .venv/bin/pip install --quiet $TORCH_SPEC
fi
.venv/bin/pip install --quiet -e '.[dev]'
echo "$want" > "$stamp"
