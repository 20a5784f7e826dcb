#!/usr/bin/env bash
# Create .venv with the pinned course environment (idempotent: does nothing when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing the course environment (pinned in requirements/constraints.txt; about 2 minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch's "+cpu" wheel lives on PyTorch's own index when the local package sources lack it
    .venv/bin/python -m pip install --quiet -c requirements/constraints.txt -e ".[course]" ||
        .venv/bin/python -m pip install --quiet -c requirements/constraints.txt -e ".[course]" \
            --extra-index-url https://download.pytorch.org/whl/cpu
    rm -f .venv/.installed-*
    touch "$stamp"
fi
