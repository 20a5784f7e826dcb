"""``batch --scheduler``: a real Dask scheduler and workers on 127.0.0.1 grade like the local backend.

The scheduler and two workers (``--nthreads 1``) are subprocesses of this venv's ``distributed``. They
grade 40 submissions of ps1 (the reference and three wrong variants) while one worker is SIGKILLed
at the batch's 10th record; the records must equal the local backend's, score for score and message for
message, each saved exactly once. Then: a rerun grades nothing, a submission that kills its worker
each time is recorded with a clear error after a bounded number of tries, a TLS cluster grades and
refuses a plain TCP client, and an unreachable scheduler is a clear error within seconds.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.bench_autograder import make_course
from tests.autograder.dask_support import ENV, KILLER, Cluster, warm_graders
from tests.support import ROOT, make_submission, reference_answer

pytestmark = pytest.mark.slow
ASSIGNMENT = "ps1_bradley_terry"
N = 40
KILL_AFTER = 10


def autograder(*args, hooks: dict | None = None, check=True) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS``; with ``hooks`` (environment), through ``tests.autograder.dask_support``."""
    module = "tests.autograder.dask_support" if hooks is not None else "autograder"
    env = {**ENV, **(hooks or {})}
    cmd = [sys.executable, "-m", module, *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return proc


def records(course: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (course / "reports" / ASSIGNMENT / "records").glob("*.json")}


def outcome(record: dict) -> tuple:
    """What grading decided: scores, error and every test's score, status and message (not the timings)."""
    r = record["result"]
    tests = [(t["name"], t["score"], t["max_score"], t["status"], t["output"]) for t in r["tests"]]
    return r["score"], r["max_score"], r["error"], tests


def scores_csv(course: Path) -> list[tuple]:
    with (course / "reports" / ASSIGNMENT / "scores.csv").open() as f:
        return [(r["student"], r["score"], r["max_score"], r["error"]) for r in csv.DictReader(f)]


def clone(pristine: Path, dest: Path, keep: int = N) -> Path:
    """A copy of the course, gradebook included, with the first ``keep`` submissions."""
    shutil.copytree(pristine, dest, symlinks=True)
    for folder in sorted((dest / "submitted").iterdir())[keep:]:
        shutil.rmtree(folder)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- fixtures: one course, graded by the local backend and on the cluster -----------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """ps1 released, with N submissions (``bench/bench_autograder.py``'s variants in turn), never graded."""
    return make_course(tmp_path_factory.mktemp("pristine") / "course", N)


@pytest.fixture(scope="module")
def local(pristine, tmp_path_factory) -> Path:
    """The local backend's grading of the course (the reference for the Dask backend)."""
    course = clone(pristine, tmp_path_factory.mktemp("local") / "course")
    autograder("batch", ASSIGNMENT, "--course-dir", str(course), "--jobs", "2")
    return course


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two one-thread workers. allowed-failures 1: a task is given up after 2 worker deaths (the default is 3)."""
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), workers=2, env=env, hooks=True)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def killed_mid_batch(pristine, cluster, tmp_path_factory) -> dict:
    """The course graded on the cluster, with one worker SIGKILLed when the batch saves its 10th record."""
    folder = tmp_path_factory.mktemp("dask")
    course, saves = clone(pristine, folder / "course"), folder / "saves.txt"
    victim = sorted(cluster.pids.values())[0]
    hooks = {
        "DASK_HOOKS_SAVES": str(saves),
        "DASK_HOOKS_KILL_PID": str(victim),
        "DASK_HOOKS_KILL_AFTER": str(KILL_AFTER),
    }
    proc = autograder("batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", cluster.address, hooks=hooks)
    (folder / "batch.log").write_text(proc.stdout + proc.stderr)
    return {"course": course, "saves": saves.read_text().split(), "victim": victim}


# -- the tests ----------------------------------------------------------------------------------------


def test_dask_records_equal_the_local_backends_score_for_score(local, killed_mid_batch):
    course = killed_mid_batch["course"]
    ours, theirs = records(course), records(local)
    assert len(theirs) == N and sorted(ours) == sorted(theirs)
    assert len({outcome(r)[0] for r in theirs.values()}) >= 3, "the variants must score differently"
    for student in theirs:
        assert outcome(ours[student]) == outcome(theirs[student]), student
        assert ours[student]["digest"] == theirs[student]["digest"]
    assert scores_csv(course) == scores_csv(local)
    assert not list((course / "reports" / ASSIGNMENT / "inflight").glob("*.json")), "no marker is left"


def test_a_worker_killed_mid_batch_loses_nothing_and_nothing_is_recorded_twice(cluster, killed_mid_batch):
    saves = killed_mid_batch["saves"]
    assert len(saves) == N and len(set(saves)) == N, "each submission is saved exactly once"
    with pytest.raises(ProcessLookupError):
        os.kill(killed_mid_batch["victim"], 0)  # the worker really died (its nanny starts a new one)
    assert killed_mid_batch["victim"] not in cluster.wait_for_workers(2).values()


def test_a_second_run_grades_nothing(cluster, killed_mid_batch, tmp_path):
    course = killed_mid_batch["course"]
    before = {p: p.stat().st_mtime_ns for p in (course / "reports" / ASSIGNMENT / "records").glob("*.json")}
    saves = tmp_path / "saves.txt"
    proc = autograder(
        "batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", cluster.address,
        hooks={"DASK_HOOKS_SAVES": str(saves)},
    )  # fmt: skip
    assert f"{N} already graded" in proc.stdout
    assert not saves.exists(), "nothing was saved"
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_workers_keep_the_grader_warm_between_batches_until_the_files_change(pristine, local, cluster, tmp_path):
    """A batch of the same files adopts each worker's warm grader (same zygote, no self-check); an edited
    grader is a new version, built anew; ``--keep-warm 0`` leaves nothing on the workers, and a short
    keep-warm expires."""
    cluster.wait_for_workers(2)
    course = clone(pristine, tmp_path / "course", keep=4)
    batch = ["batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", cluster.address, "--force"]

    def held() -> dict:
        with cluster.client() as client:
            return client.run(warm_graders)

    autograder(*batch)
    first = held()
    assert all(list(w) == [ASSIGNMENT, "unpacked"] and w["unpacked"] == [ASSIGNMENT] for w in first.values()), first
    proc = autograder(*batch)
    assert "2 workers, 2 threads; 2 kept this assignment's grader warm" in proc.stderr, proc.stderr
    assert held() == first, "the same zygotes graded the second batch"

    grader = course / "graders" / ASSIGNMENT / f"test_{ASSIGNMENT}.py"
    grader.write_text(grader.read_text() + "\n# edited by the instructor\n")
    proc = autograder(*batch)
    assert "0 kept this assignment's grader warm" in proc.stderr, proc.stderr
    edited = held()
    for address, (digest, zygote) in ((a, w[ASSIGNMENT]) for a, w in edited.items()):
        assert digest != first[address][ASSIGNMENT][0] and zygote != first[address][ASSIGNMENT][1]
    got, theirs = records(course), records(local)
    assert all(outcome(got[s]) == outcome(theirs[s]) for s in got) and len(got) == 4

    autograder(*batch, "--keep-warm", "0")
    assert all(w == {"unpacked": []} for w in held().values()), "nothing is left on the workers"
    autograder(*batch, "--keep-warm", "1")
    assert all(ASSIGNMENT in w for w in held().values())
    time.sleep(3)
    assert all(w == {"unpacked": []} for w in held().values()), "the keep-warm expired"


def test_a_local_cluster_grades_like_the_local_backend_and_leaves_no_process(pristine, local, tmp_path):
    """``--scheduler local:2``: this command starts the cluster, grades on it and ends it, workers included."""
    course = clone(pristine, tmp_path / "course", keep=4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", "local:2"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "2 workers, 2 threads" in err
    got, theirs = records(course), records(local)
    assert sorted(got) == sorted(theirs)[:4]
    assert all(outcome(got[s]) == outcome(theirs[s]) for s in got)
    # the moment it returns, nothing it started is left in its session (workers, resource tracker, zombies)
    left = subprocess.run(["ps", "-o", "pid,stat,args", "--no-headers", "-s", str(proc.pid)],
                          capture_output=True, text=True).stdout  # fmt: skip
    assert left == "", f"processes of the batch's session outlived it: {left}"


def test_a_task_for_another_version_of_the_files_is_refused(cluster):
    from autograder.assignment import SetupError
    from autograder.dask_backend import _grade_on_worker

    with cluster.client() as client:
        future = client.submit(_grade_on_worker, f"autograder-{ASSIGNMENT}", "0" * 64, b"{}", pure=False)
        with pytest.raises(SetupError, match="has (no|another version of the) autograder-ps1_bradley_terry plugin"):
            future.result(timeout=60)


def test_paths_are_taken_one_per_free_worker_thread(pristine, cluster, tmp_path, monkeypatch):
    """The batch marks a submission in flight when grade_many takes its path: taking all at once marked
    every submission flying with every other (a quadratic number of marker writes, and false company)."""
    from autograder.cli import _parser
    from autograder.dask_backend import DaskGrader

    monkeypatch.chdir(ROOT)
    course = clone(pristine, tmp_path / "course", keep=8)
    paths = sorted((course / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    args = _parser().parse_args(["batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", cluster.address])
    taken, ahead = [], []

    def lazily():
        for path in paths:
            taken.append(path)
            yield path

    with DaskGrader(args) as grader:
        for done, _ in enumerate(grader.grade_many(lazily()), start=1):
            ahead.append(len(taken) - done)
    assert len(ahead) == len(paths)
    assert max(ahead) <= 2, ahead  # two one-thread workers: at most two taken and not yet yielded


def test_a_submission_that_kills_its_worker_every_time_gets_a_clear_error(pristine, local, cluster, tmp_path):
    """The preload hook (``dask_support.py``) SIGKILLs any worker that grades KILLER's submission.

    With allowed-failures 1 the scheduler gives up after the second death (KilledWorker); the batch
    records zero with a clear error and goes on, and the other submission is graded as by the local
    backend (one other: the batch ends without waiting for a restarted worker).
    """
    cluster.wait_for_workers(2)  # the worker killed by the test above is back
    course = clone(pristine, tmp_path / "course", keep=1)
    answer = reference_answer(ASSIGNMENT, "loss_vs_gap") + f"\n# {KILLER}\n"
    killer = course / "submitted" / "a_killer" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # sorts first: handed over first
    make_submission(ASSIGNMENT, killer, {"loss_vs_gap": answer})
    proc = autograder("batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", cluster.address)
    got = records(course)
    killed = got.pop("a_killer")["result"]
    assert killed["score"] == 0.0 and "the Dask worker grading it died" in killed["error"]
    assert "crashed the autograder 2 times" in killed["error"]
    assert any("allowed-failures is 1" in note for note in killed["notes"]), killed["notes"]
    assert "killed its Dask worker 2 times" in proc.stderr
    assert list(got) == ["s000"] and outcome(got["s000"]) == outcome(records(local)["s000"])
    cluster.wait_for_workers(1)  # the cluster outlives it: its nannies restart the workers


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A self-signed certificate for 127.0.0.1 that is its own CA (Dask does not check host names)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test certificates; install openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, cert, key


@pytest.fixture(scope="module")
def tls_cluster(certificates, tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("tls-cluster"), workers=1, tls=certificates)
    yield cluster
    cluster.stop()


def test_a_tls_cluster_grades_and_refuses_plain_tcp(pristine, local, tls_cluster, tmp_path, capsys, monkeypatch):
    assert tls_cluster.address.startswith("tls://127.0.0.1:")
    monkeypatch.chdir(ROOT)
    course = clone(pristine, tmp_path / "course", keep=4)
    args = ["batch", ASSIGNMENT, "--course-dir", str(course)]
    autograder(*args, "--scheduler", tls_cluster.address, *tls_cluster.tls_args())
    theirs = records(local)
    got = records(course)
    assert sorted(got) == sorted(theirs)[:4]
    for student, record in got.items():
        assert outcome(record) == outcome(theirs[student]), student

    from autograder.cli import main  # the refusals in this process: they start nothing

    plain = tls_cluster.address.replace("tls://", "tcp://")
    start = time.monotonic()
    assert main([*args, "--force", "--scheduler", plain]) == 2
    error = capsys.readouterr().err
    assert f"cannot connect to the Dask scheduler at {plain}" in error and "use a tls:// address" in error, error
    assert time.monotonic() - start < 10
    assert main([*args, "--force", "--scheduler", tls_cluster.address]) == 2  # no certificates
    assert "also give --tls-ca-file, --tls-cert and --tls-key" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(pristine, tmp_path):
    course = clone(pristine, tmp_path / "course", keep=1)
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    proc = autograder("batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", address, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the Dask scheduler at {address}: nothing listens there" in proc.stderr, proc.stderr
    assert time.monotonic() - start < 15
    assert not (course / "reports" / ASSIGNMENT / "records").exists() or not records(course)


def test_a_dask_batch_that_dies_implicates_no_submission(tmp_path):
    """On a cluster a death of the batch is no submission's doing: its in-flight markers carry no attempt."""
    from autograder.batch import BatchPaths, Crashes, _grade_window, crash_history, find_submissions

    for student in ("ann", "ben"):
        make_submission(ASSIGNMENT, tmp_path / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    paths = BatchPaths(tmp_path, ASSIGNMENT)
    (tmp_path / "spool").mkdir()
    subs, _ = find_submissions(tmp_path, ASSIGNMENT, tmp_path / "spool")

    class Dead:  # takes every submission (as the Dask backend does), then the batch dies: the markers stay
        def grade_many(self, paths):
            list(paths)
            yield from ()

    for boot_id, crashes in (("boot-1", Crashes(1, 0)), (None, Crashes())):  # the local backend's, then Dask's
        _grade_window(paths, Dead(), subs, {s.student: Crashes() for s in subs}, boot_id)
        assert [crash_history(paths, s, None, "boot-1") for s in subs] == [crashes, crashes]


@pytest.mark.parametrize(
    "scheduler, extra, message",
    [
        ("local:0", [], "local:N needs a number of workers N >= 1"),
        ("udp://127.0.0.1:8786", [], "give tcp://HOST:PORT, tls://HOST:PORT or local:N"),
        ("tcp://127.0.0.1", [], "no port"),
        ("tcp://127.0.0.1:8786", ["--tls-cert", "README.md"], "--tls-ca-file, --tls-key missing"),
        ("tcp://127.0.0.1:8786", ["--tls-ca-file", "README.md", "--tls-cert", "README.md", "--tls-key", "x.pem"],
         "--tls-key x.pem: no such file"),
        ("tcp://127.0.0.1:8786", ["--tls-ca-file", "README.md", "--tls-cert", "README.md", "--tls-key", "README.md"],
         "plain TCP but TLS certificates were given"),
    ],
)  # fmt: skip
def test_bad_scheduler_options_exit_2_with_a_fix(pristine, tmp_path, capsys, monkeypatch, scheduler, extra, message):
    """In this process (each is refused before any cluster is started or reached)."""
    from autograder.cli import main

    monkeypatch.chdir(ROOT)
    course = clone(pristine, tmp_path / "course", keep=1)
    assert main(["batch", ASSIGNMENT, "--course-dir", str(course), "--scheduler", scheduler, *extra]) == 2
    assert message in capsys.readouterr().err
