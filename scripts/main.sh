#!/usr/bin/env bash
# The main job: environment, reward-model demo (from scratch vs pretrained), the book, student releases,
# autograding of the bundled example submissions, and the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # nbgrader runs alembic from PATH

echo "== 1. the reward-model demo: from scratch vs the pretrained course-tiny (course_lib demo)"
python -m course_lib.demo --out build/demo

echo "== 2. the book"
if [ -x scripts/build_book.sh ]; then scripts/build_book.sh; fi

echo "== 3. student releases (nbgrader generate_assignment)"
assignments=$(cd assignments/source && ls -d ps*/ | tr -d /)
for a in $assignments; do
    (cd assignments && nbgrader generate_assignment "$a" --log-level=WARN)
done

echo "== 4. autograding the example submissions"
python assignments/examples/build_examples.py --course-dir assignments >/dev/null
graded=$(cd assignments/submitted && ls -d */*/ | cut -d/ -f2 | sort -u)
for a in $graded; do
    python -m autograder batch "$a" --course-dir assignments --similarity
done
(cd assignments && nbgrader export --log-level=WARN)

echo "== done"
[ -f _build/html/index.html ] && echo "book:        $PWD/_build/html/index.html"
for a in $graded; do echo "report $a: $PWD/assignments/reports/$a/report.html"; done
echo "gradebook:   $PWD/assignments/grades.csv (nbgrader export)"
