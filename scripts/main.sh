#!/usr/bin/env bash
# The main job: environment, then the tiny reward model demo (later: book, releases, autograding, report).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
python -m course_lib.demo --out build/demo
