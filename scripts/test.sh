#!/usr/bin/env bash
# The test command: set up, lint, then the whole test suite (library, assignments, autograder, book).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install_browser.sh           # Debian's chromium for the browser tests of the book
export PATH="$PWD/.venv/bin:$PATH"   # nbgrader runs alembic from PATH
ruff check .
ruff format --check course_lib autograder tests bench scripts
# pytest exits 5 when it collects nothing: that is a failure here, as is any other non-zero code.
# Two workers, each test file on one of them (module fixtures such as the graded cases and the built book stay
# whole): the suite is mostly single-threaded, so this halves the wall time on 2 cores.
python -m pytest -n 2 --dist loadfile "$@"
