#!/usr/bin/env bash
# Build the book offline: every chapter executed (cached by content), any warning or failing cell is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/jupyter-book ] || scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export PYDEVD_DISABLE_FILE_VALIDATION=1 TQDM_DISABLE=1
rm -rf _build/html  # stale pages must not survive; executed notebooks stay cached in _build/.jupyter_cache
status=0
python scripts/execute_book.py || status=$?  # chapters side by side into the cache; the build then only renders
jupyter-book build . -W --keep-going -q || status=$?
if compgen -G "_build/html/reports/*.err.log" >/dev/null || compgen -G "_build/html/reports/*/*.err.log" >/dev/null; then
    echo "build_book: a chapter failed to execute; see _build/html/reports/" >&2
    status=1
fi
if [ "$status" != 0 ]; then
    echo "build_book: FAILED (exit $status)" >&2
    exit "$status"
fi
echo "book: $PWD/_build/html/index.html"
