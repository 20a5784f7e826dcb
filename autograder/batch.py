"""Batch grading of ``submitted/<student>/<assignment>/`` into nbgrader's gradebook: resumable, crash-safe.

Reading. Everything under ``submitted/`` is untrusted. The batch opens each student folder and
its ``<assignment>`` folder relative to the one above with ``O_NOFOLLOW``, and reads the notebook
and ``timestamp.txt`` once, only if each is a regular file (not a symbolic link, pipe, socket,
device or a hard link to a course file) under a size cap. The bytes read are digested and copied
to a private folder, and that copy is what is graded and shown in the autograded notebook, so a
file swapped while the batch runs changes nothing. A refused notebook or folder is recorded with
a clear error and zero; a refused ``timestamp.txt`` is dropped with a note. A folder name that
cannot be a student id (control characters, a leading dot, too long) is skipped and reported.

Records. Each graded submission gets a record (``reports/<assignment>/records/<student>.json``),
written atomically after its autograded notebook and before the next submissions are handed to
the grader. A record carries the digest of what it graded, so a rerun skips what is done; the
gradebook, CSV, feedback and report are then rebuilt from all records (idempotent).

Crashes. Before submissions are handed to the grader (``--jobs`` at a time), each gets an
in-flight marker (``reports/<assignment>/inflight/<student>.json``: digest, crash history, whether
it is alone in flight), removed once its record is saved, and put back as it was when the batch
stops cleanly (Ctrl-C, SIGTERM, a setup error). A marker found at the start therefore means the
batch died with that submission in flight, killed by the kernel for instance. Such a submission
is graded again alone, after the others; once it has been in flight alone at ``--max-crashes``
deaths it is recorded with zero and a clear error instead, and not graded again. A death shared
by several submissions in flight condemns none of them, and a reboot in between counts for nobody.

Backends. The grader is the local :class:`~autograder.service.Autograder` or, with ``--scheduler``,
a Dask cluster (:mod:`autograder.dask_backend`); either yields results by path as they finish, and
everything above is the same for both. On a cluster the submissions are graded in the workers'
processes, so a death of the batch is no submission's doing: all are handed over in one window, and
their markers carry no attempt (a worker that dies is Dask's to retry, a bounded number of times).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.auto import tqdm

from autograder.assignment import SetupError
from autograder.files import FileTooLarge, NotPlainFile, atomic_write, open_folder, owned_name, read_regular_file
from autograder.notebook import MAX_BYTES
from autograder.results import SubmissionResult

STAMP_BYTES = 256  # timestamp.txt: nbgrader writes ~30 characters
STAMP_CHARS = 64
MAX_ID_BYTES = 128  # nbgrader's gradebook column for student ids
_BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # control, invisible, unassigned, line breaks
LINK_FIX = "the autograder does not follow links: put the submitted files themselves there (collect again)"
FOLDER_FIX = "not a folder; collect the submission again"
CRASHED = (
    "grading this submission crashed the autograder {times} (the judge process was killed); "
    "it was given zero: check the instructor report"
)


@dataclass(frozen=True)
class Submission:
    student: str
    source: str  # "submitted/<student>/<assignment>/<assignment>.ipynb", for messages; never opened by name
    notebook: Path | None  # private copy of the bytes read, the only thing graded; None: nothing to grade
    timestamp: str | None
    digest: str  # of the bytes read (or of the refusal), to skip what a rerun has already graded
    error: str | None = None  # why it cannot be graded: zero, with this message
    notes: tuple[str, ...] = ()  # for the instructor (a timestamp.txt dropped, ...)


@dataclass(frozen=True)
class Crashes:
    """How often a batch died with this submission (same digest) in flight, and how often it was alone."""

    count: int = 0
    alone: int = 0


@dataclass(frozen=True)
class BatchPaths:
    course_dir: Path
    assignment: str

    @property
    def reports(self) -> Path:
        return self.course_dir / "reports" / self.assignment

    def record(self, student: str) -> Path:
        return self.reports / "records" / f"{student}.json"

    def inflight(self, student: str) -> Path:
        return self.reports / "inflight" / f"{student}.json"

    def autograded(self, student: str) -> Path:
        return self.course_dir / "autograded" / student / self.assignment


def student_id_problem(name: str) -> str | None:
    """Why the folder name ``name`` cannot be a student id, or None: ids name files and report rows."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not UTF-8"
    if size > MAX_ID_BYTES:
        return f"it is {size} bytes long, the limit is {MAX_ID_BYTES}"
    if name.startswith("."):
        return "it starts with '.' (a hidden folder)"
    if name[0] in "=+-@":
        return f"it starts with {name[0]!r}, which a spreadsheet opening scores.csv runs as a formula"
    bad = [c for c in name if unicodedata.category(c) in _BAD_CATEGORIES]
    if bad:
        return f"it holds the control or invisible character {ascii(bad[0])}"
    if name != name.strip():
        return "it starts or ends with a space"
    return None


def _course_inodes(course_dir: Path, assignment: str) -> set[tuple[int, int]]:
    """(device, inode) of the course's own files: a submitted file hard-linked to one is refused."""
    inodes = set()
    tops = [
        course_dir / "source" / assignment,
        course_dir / "notebooks",  # the assignments' markdown sources, solutions included
        course_dir / "release" / assignment,
        course_dir / "graders",
    ]
    for path in [*course_dir.glob("*"), *(p for top in tops for p in top.rglob("*"))]:
        with contextlib.suppress(OSError):
            st = path.stat()
            if stat.S_ISREG(st.st_mode):
                inodes.add((st.st_dev, st.st_ino))
    return inodes


def _timestamp(folder_fd: int, course: set[tuple[int, int]]) -> tuple[str | None, str | None]:
    """(timestamp, None) from ``timestamp.txt``, or (None, why it was dropped); (None, None) if absent."""
    from nbgrader.utils import parse_utc

    dropped = "; it was ignored (the submission time is unknown)"
    try:
        data, st = read_regular_file("timestamp.txt", folder_fd, STAMP_BYTES)
    except FileNotFoundError:
        return None, None
    except NotPlainFile as err:
        return None, f"timestamp.txt is {err.kind}" + dropped
    except FileTooLarge as err:
        if (err.st.st_dev, err.st.st_ino) in course:
            return None, "timestamp.txt is a hard link to a file of the course" + dropped
        return None, f"timestamp.txt is over {STAMP_BYTES} bytes" + dropped
    except OSError as err:
        return None, f"timestamp.txt cannot be read ({err.strerror})" + dropped
    if (st.st_dev, st.st_ino) in course:
        return None, "timestamp.txt is a hard link to a file of the course" + dropped
    text = data.decode("utf-8", errors="replace").strip()
    try:
        if len(text) > STAMP_CHARS or not text.isprintable():
            raise ValueError(text)
        parse_utc(text)
    except (ValueError, OverflowError):
        return None, "timestamp.txt does not hold a date and time nbgrader can read" + dropped
    return text, None


def _digest(data: bytes, timestamp: str | None) -> str:
    return hashlib.sha256(data + (timestamp or "").encode()).hexdigest()


def _read_submission(
    student: str, folder_fd: int, assignment: str, course: set[tuple[int, int]]
) -> tuple[Submission, bytes | None]:
    """The submission in the open ``<assignment>`` folder ``folder_fd`` and the notebook's bytes."""
    source = f"submitted/{student}/{assignment}/{assignment}.ipynb"
    timestamp, note = _timestamp(folder_fd, course)
    data, error = None, None
    try:
        data, st = read_regular_file(f"{assignment}.ipynb", folder_fd, MAX_BYTES)
        if (st.st_dev, st.st_ino) in course:
            data, error = None, f"{source} is a hard link to a file of the course; submit your own notebook file"
    except FileNotFoundError:
        error = f"no {assignment}.ipynb in the submission folder"
    except NotPlainFile as err:
        error = f"{source} is {err.kind}; submit the notebook file itself"
    except FileTooLarge as err:
        error = f"{source} is {err.size / 2**20:.1f} MiB; the limit is {MAX_BYTES // 2**20} MiB (clear large outputs)"
        if (err.st.st_dev, err.st.st_ino) in course:
            error = f"{source} is a hard link to a file of the course; submit your own notebook file"
    except OSError as err:
        error = f"cannot read {source}: {err.strerror}"
    digest = _digest(data if error is None else b"refused\0" + error.encode(), timestamp)
    sub = Submission(student, source, None, timestamp, digest, error, (note,) if note else ())
    return sub, data


def _refused(student: str, assignment: str, error: str) -> Submission:
    source = f"submitted/{student}/{assignment}/{assignment}.ipynb"
    return Submission(student, source, None, None, _digest(b"refused\0" + error.encode(), None), error)


def _not_a_folder(path: str, kind: str) -> str:
    fix = LINK_FIX if kind == "a symbolic link" else FOLDER_FIX
    return f"{path} is {kind}; {fix}"


def _scan(top: int, name: str, assignment: str, course: set) -> tuple[Submission, bytes | None] | None:
    """The submission of ``submitted/<name>/<assignment>``, or None where there is none."""
    try:
        mode = os.stat(name, dir_fd=top, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):  # whatever it points to is not read: record the refusal for every assignment
        return _refused(name, assignment, _not_a_folder(f"submitted/{name}", "a symbolic link")), None
    if not stat.S_ISDIR(mode):
        return None  # a stray file, not a student folder
    try:
        student_fd = open_folder(name, top)
    except FileNotFoundError:
        return None
    except NotPlainFile as err:
        return _refused(name, assignment, _not_a_folder(f"submitted/{name}", err.kind)), None
    try:
        try:
            folder_fd = open_folder(assignment, student_fd)
        except FileNotFoundError:
            return None
        except NotPlainFile as err:
            return _refused(name, assignment, _not_a_folder(f"submitted/{name}/{assignment}", err.kind)), None
        try:
            return _read_submission(name, folder_fd, assignment, course)
        finally:
            os.close(folder_fd)
    finally:
        os.close(student_fd)


def find_submissions(
    course_dir: Path, assignment: str, spool: Path, wanted: Callable[[Submission], bool] = lambda s: True
) -> tuple[list[Submission], list[str]]:
    """Every ``submitted/<student>/<assignment>/``, sorted by student id, and the folders skipped.

    Each notebook is read once; for the submissions ``wanted`` accepts, its bytes are copied to a
    private file under ``spool`` (``Submission.notebook``), which is what gets graded. The second
    list says, for the instructor, which folders were skipped because their name cannot be an id.
    """
    course = _course_inodes(course_dir, assignment)
    try:
        top = os.open(course_dir / "submitted", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    out, skipped = [], []
    try:
        for name in sorted(os.listdir(top)):
            found = _scan(top, name, assignment, course)
            if found is None:
                continue
            sub, data = found
            problem = student_id_problem(name)
            if problem:
                skipped.append(
                    f"submitted/{ascii(name)[1:-1]}: the folder name cannot be a student id ({problem}); "
                    "rename it to the student's id"
                )
                continue
            if data is not None and wanted(sub):
                copy = spool / str(len(out)) / f"{assignment}.ipynb"
                copy.parent.mkdir(mode=0o700)
                fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                sub = replace(sub, notebook=copy)
            out.append(sub)
    finally:
        os.close(top)
    return out, skipped


def load_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing or unreadable: grade again
    return record if isinstance(record, dict) else None


def _boot_id() -> str:
    """Changes when the machine restarts: a batch that died with the machine counts for no submission."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _crashes(value) -> Crashes:
    try:
        return Crashes(max(0, int(value["count"])), max(0, int(value["alone"])))
    except (TypeError, KeyError, ValueError):
        return Crashes()


def crash_history(paths: BatchPaths, s: Submission, record: dict | None, boot_id: str) -> Crashes:
    """The crashes of this very submission so far: from its in-flight marker, else its record."""
    marker = load_record(paths.inflight(s.student))
    if marker is not None and marker.get("digest") == s.digest:
        past = _crashes(marker)
        attempt = marker.get("attempt")
        if isinstance(attempt, dict) and attempt.get("boot_id") == boot_id:  # the batch died with it in flight
            return Crashes(past.count + 1, past.alone + bool(attempt.get("alone")))
        return past  # put back by a clean stop, or the machine restarted
    if record is not None and record.get("digest") == s.digest:
        return _crashes(record.get("crashes"))
    return Crashes()


def _is_done(record: dict | None, s: Submission, max_crashes: int) -> bool:
    """Graded already: the record is of these bytes (and, if it gave up after crashes, still would)."""
    if record is None or record.get("digest") != s.digest:
        return False
    crashes = record.get("crashes")
    return crashes is None or _crashes(crashes).alone >= max_crashes


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def run_batch(args) -> int:
    """``python -m autograder batch``: grade what is new, then rebuild gradebook, CSV, feedback, report."""
    course_dir = args.course_dir.resolve()
    paths = BatchPaths(course_dir, args.assignment)
    max_crashes = getattr(args, "max_crashes", 1)
    boot_id = _boot_id()
    records: dict[str, dict | None] = {}

    def record_of(student: str) -> dict | None:
        if student not in records:
            records[student] = load_record(paths.record(student))
        return records[student]

    def pending(s: Submission) -> bool:
        return args.force or not _is_done(record_of(s.student), s, max_crashes)

    zygote = None if getattr(args, "scheduler", None) else _early_zygote(args)
    try:
        return _scan_and_grade(args, paths, pending, record_of, boot_id, max_crashes, zygote)
    finally:
        if zygote is not None:
            zygote.close()  # idempotent: the Autograder closed it already unless the scan failed


def _early_zygote(args):
    """The local backend's zygote, started before the scan: its imports overlap the scan's (nbgrader).

    None where the assignment cannot start one: the scan's own errors come first, then the grader's.
    """
    from autograder.launch import start_zygote

    try:
        return start_zygote(args)
    except SetupError:
        return None


def _scan_and_grade(args, paths, pending, record_of, boot_id, max_crashes, zygote) -> int:
    course_dir = paths.course_dir
    with tempfile.TemporaryDirectory(prefix=owned_name("batch-")) as spool:
        submissions, skipped = find_submissions(course_dir, args.assignment, Path(spool), pending)
        for line in skipped:
            print(f"skipped {line}", file=sys.stderr)
        if not submissions:
            raise SetupError(f"no submissions in {course_dir}/submitted/*/{args.assignment}/; collect them first")
        todo = [s for s in submissions if pending(s)]
        history = {s.student: crash_history(paths, s, record_of(s.student), boot_id) for s in todo}
        _clear_stale_markers(paths, {s.student for s in todo if history[s.student].count})
        gradable = [s for s in todo if s.error is None]
        condemned = [s for s in gradable if history[s.student].alone >= max_crashes]
        suspects = [s for s in gradable if history[s.student].count > 0 and history[s.student].alone < max_crashes]
        line = f"{args.assignment}: {len(submissions)} submissions, {len(submissions) - len(todo)} already graded"
        if suspects:
            line += f", {len(suspects)} in flight when a batch died (graded again, one at a time, last)"
        if condemned:
            line += f", {len(condemned)} that crashed the autograder (given zero)"
        print(line)
        with _stop_on_sigterm():
            return _grade_and_write(args, paths, submissions, todo, history, condemned, suspects, zygote)


def _open_grader(args, zygote=None):
    """The local Autograder (on ``zygote``), or with ``--scheduler`` the Dask cluster's (imported only then)."""
    if getattr(args, "scheduler", None):
        from autograder.dask_backend import DaskGrader

        return DaskGrader(args)
    from autograder.launch import open_autograder

    return open_autograder(args, zygote)


def _grade_and_write(args, paths, submissions, todo, history, condemned, suspects, zygote=None) -> int:
    from autograder.gradebook import sync_gradebook
    from autograder.report import write_outputs

    remote = bool(getattr(args, "scheduler", None))  # graded in other processes: see "Backends" above
    with _open_grader(args, zygote) as grader:
        start = time.monotonic()
        bar = tqdm(total=len(todo), desc=f"grading {args.assignment}", unit="nb")
        for s in todo:
            if s.error is not None:
                save_result(paths, s, grader.judge_error(s.source, s.error), grader)
                bar.update()
        for s in condemned:
            h = history[s.student]
            result = grader.judge_error(s.source, CRASHED.format(times=_times(h.count)))
            result.notes.append(
                f"the batch died {_times(h.count)} while grading this submission, {h.alone} of them with no other "
                f"submission in flight; rerun with --max-crashes {h.alone + 1} to grade it again"
            )
            print(f"{s.student}: {result.error}; --max-crashes {h.alone + 1} grades it again", file=sys.stderr)
            save_result(paths, s, result, grader, crashes=h)
            bar.update()
        fresh = [s for s in todo if s.error is None and history[s.student].count == 0]
        windows = ([fresh] if fresh else []) + [[s] for s in suspects]  # the suspects one at a time, last
        for window in windows:
            _grade_window(paths, grader, window, history, None if remote else _boot_id(), bar)
        bar.close()
        graded = time.monotonic()
        records = {s.student: load_record(paths.record(s.student)) for s in submissions}
        results = {student: SubmissionResult.from_dict(rec["result"]) for student, rec in records.items() if rec}
        stamps = {s.student: s.timestamp for s in submissions}
        sync_gradebook(paths.course_dir, args.assignment, results, stamps, grader.source_roles, db_url=args.db)
        outputs = write_outputs(paths, args.assignment, results, str(grader.isolation), grader.layers)
        written = time.monotonic()
    print(
        f"graded {len(todo)} in {graded - start:.1f} s; gradebook, CSV, feedback and report of "
        f"{len(results)} in {written - graded:.1f} s"
    )
    for name, path in outputs.items():
        print(f"{name}: {path}")
    return 0


def _grade_window(
    paths: BatchPaths, grader, window: list[Submission], history: dict, boot_id: str | None, bar=None
) -> None:
    """Grade ``window``, the grader's ``jobs`` at a time; each record is saved, and its marker removed, as it arrives.

    A submission is handed to the grader (its marker written) only when the grader asks for the next
    one, after the last result is saved. Its marker says which submissions are in flight with it, and
    is rewritten as others join; if the batch stops cleanly, the markers are put back as they were (the
    stop is no crash). ``boot_id`` None: a death of this process cannot be the submissions' doing, so it
    counts no attempt. Only a submission graded with nothing else in flight is ``alone``.
    """
    alone = len(window) == 1 or getattr(grader, "jobs", None) == 1  # unknown: not alone (condemns no one)
    flying: dict[str, Submission] = {}  # handed over, not saved yet

    def mark(s: Submission) -> None:
        h = history[s.student]
        others = [o for o in flying if o != s.student]
        attempt = None if boot_id is None else {"alone": alone, "with": others, "boot_id": boot_id}
        marker = {"student": s.student, "digest": s.digest, "count": h.count, "alone": h.alone, "attempt": attempt}
        atomic_write(paths.inflight(s.student), json.dumps(marker, indent=1))

    def hand_over():
        for s in window:
            flying[s.student] = s
            for o in flying.values():  # its own marker, and the others' now that it flies with them
                mark(o)
            yield str(s.notebook)

    by_path = {str(s.notebook): s for s in window}
    try:
        for result in grader.grade_many(hand_over()):
            s = by_path[result.path]
            save_result(paths, s, result, grader)
            del flying[s.student]
            if bar is not None:
                bar.update()
    except BaseException:
        for s in flying.values():
            _restore_marker(paths, s, history[s.student])
        raise


def _restore_marker(paths: BatchPaths, s: Submission, h: Crashes) -> None:
    if h.count == 0:
        paths.inflight(s.student).unlink(missing_ok=True)
    else:
        marker = {"student": s.student, "digest": s.digest, "count": h.count, "alone": h.alone}
        atomic_write(paths.inflight(s.student), json.dumps(marker, indent=1))


def _clear_stale_markers(paths: BatchPaths, keep: set[str]) -> None:
    """Markers of submissions graded since, resubmitted or gone: a fresh batch does not need them."""
    folder = paths.reports / "inflight"
    if folder.is_dir():
        for path in folder.glob("*.json"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)


def save_result(
    paths: BatchPaths, s: Submission, result: SubmissionResult, grader, crashes: Crashes | None = None
) -> None:
    """Write the autograded notebook, then the record (atomically), then drop the in-flight marker."""
    from autograder.autograded import write_autograded_notebook

    result.student = s.student
    result.path = s.source
    result.notes = [*s.notes, *result.notes]
    write_autograded_notebook(paths.autograded(s.student), s, result, grader)
    record = {"student": s.student, "digest": s.digest, "timestamp": s.timestamp, "result": result.to_dict()}
    if crashes is not None:
        record["crashes"] = {"count": crashes.count, "alone": crashes.alone}
    atomic_write(paths.record(s.student), json.dumps(record, indent=1))
    paths.inflight(s.student).unlink(missing_ok=True)


@contextlib.contextmanager
def _stop_on_sigterm():
    """SIGTERM stops the batch like Ctrl-C (markers put back), not like a crash."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
