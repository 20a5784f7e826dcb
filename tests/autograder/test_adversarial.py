"""Hostile submissions: one per attack, all graded in one batch next to honest ones.

Each attack is written into ps1_bradley_terry's answer cells. Unless an attack keeps the reference
for some functions (to show that the rest of the notebook still earns its points), it is combined
with no working implementation, so an honest score of 0 is the most it may get. Every test checks
the attack got no points beyond honest ones; the module-level checks (no leak, no surviving
process, the batch still graded) run over all of them.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.assignment import DISABLED
from autograder.runner import BASE_UID
from autograder.sandbox import Limits
from autograder.service import Autograder
from tests.support import COURSE, make_submission, released_course

pytestmark = pytest.mark.slow
ASSIGNMENT = "ps1_bradley_terry"
MAX = 8.0
LOSS, METRICS, GAP = "bradley_terry_loss", "preference_metrics", "loss_vs_gap"
POINTS = {LOSS: 4.0, METRICS: 2.0, GAP: 2.0}
CELLS = {LOSS: "test_bradley_terry_loss", METRICS: "test_preference_metrics", GAP: "test_loss_vs_gap"}
NOTHING = {
    LOSS: "def bradley_terry_loss(*args, **kwargs):\n    raise NotImplementedError()\n",
    METRICS: "def preference_probability(*a, **k):\n    raise NotImplementedError()\n\n"
    "def pairwise_accuracy(*a, **k):\n    raise NotImplementedError()\n",
    GAP: "def loss_vs_gap(gaps):\n    raise NotImplementedError()\n",
}
ALICE_SECRET = "alice-private-marker-7f3a9"
# Text that exists only in hidden or instructor-only files; it must never reach the sandbox.
SECRETS = [
    "Hidden grader for ps1_bradley_terry",  # the grader's docstring
    "Rubric (2 points)",  # the rubric in the source notebook
    "loss = -F.logsigmoid(r_chosen - r_rejected - margin)",  # the reference solution in the source notebook
    "gap = r_chosen - r_rejected - torch.as_tensor(margin",  # course_lib's reference body
    ALICE_SECRET,  # another student's submission
]


def _strip_rubric(nb) -> None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution"):
            cell.source = "My written answer."


def attack(first: str = "", **cells: str) -> dict[str, str]:
    """Answer cells for an attack: ``first`` runs before the (missing) loss, ``cells`` override cells."""
    answers = dict(NOTHING)
    answers[LOSS] = first + "\n" + answers[LOSS]
    answers.update(cells)
    return answers


def reference(name: str) -> str:
    nb = nbformat.read(COURSE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)
    return cell.source


# Where this checkout keeps what the sandbox must not see (built from the course directory, so the
# checks hold in any checkout, not only in one machine's path).
GRADER_FILE = COURSE / "graders" / ASSIGNMENT / f"test_{ASSIGNMENT}.py"
GUESSES = [str(GRADER_FILE), str(COURSE / "gradebook.db"), str(COURSE / "source")]
SCORES_CSV = str(COURSE / "reports" / ASSIGNMENT / "scores.csv")

READ_SECRETS = r"""
import os
targets = []
for base in ["/work", "/root", "/home", "/tmp", "/srv", "/opt", "/var", "/mnt", os.getcwd(), "/proc/1"]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in (".venv", "site-packages", "__pycache__", ".git")]
        for f in filenames:
            targets.append(os.path.join(dirpath, f))
        if len(targets) > 20000:
            break
import course_lib.training.reward_model as rm
targets.append(rm.__file__)
found, scanned = [], 0
for path in targets:
    try:
        with open(path, "rb") as fh:
            data = fh.read(2_000_000)
        scanned += 1
    except OSError:
        continue
    for marker in SECRET_MARKERS:
        if marker.encode() in data:
            found.append(f"FOUND {marker!r} in {path}")
for guess in GUESSES:
    print("exists?", guess, os.path.exists(guess))
print("SCANNED", scanned, "files")
print("\n".join(found) or "nothing found")
""".replace("SECRET_MARKERS", repr(SECRETS)).replace("GUESSES", repr(GUESSES))

FRAME_WALK = r"""
import gc, sys, inspect
def bradley_terry_loss(*args, **kwargs):
    hits = []
    frame = sys._getframe()
    while frame is not None:
        for k, v in list(frame.f_locals.items()):
            hits.append(f"{frame.f_code.co_name}:{k}={str(v)[:80]}")
        frame = frame.f_back
    markers = ["ref" + "_loss", "Hidden " + "grader", "expect" + "_tensor", "HUGE" + "_C"]
    for obj in gc.get_objects():
        if isinstance(obj, str) and any(m in obj for m in markers):
            hits.append("GC:" + obj[:120])
    return f"WALKED {len(hits)}\n" + "\n".join(hits[:300])  # output printed during probes is discarded
"""

MONKEYPATCH = r"""
import builtins, math, unittest
import numpy as np
import torch
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.__lt__ = lambda self, other: True
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
builtins.all = lambda *a, **k: True
builtins.any = lambda *a, **k: True
builtins.isinstance = lambda *a, **k: True
unittest.TestCase.assertEqual = lambda *a, **k: None
try:
    import pytest
    pytest.approx = lambda expected, *a, **k: expected
    import _pytest.assertion.rewrite as rw
    rw.AssertionRewritingHook = None
except Exception as err:
    print("pytest not patchable here:", err)
"""

ALWAYS_EQUAL = r"""
import torch
class AlwaysEqual(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    __hash__ = float.__hash__
class EvilTensor(torch.Tensor):
    def __eq__(self, other): return torch.ones((), dtype=torch.bool)
def bradley_terry_loss(reward_chosen, reward_rejected, margin=0.0, reduction="mean"):
    return torch.Tensor._make_subclass(EvilTensor, torch.zeros(torch.as_tensor(reward_chosen).shape if reduction == "none" else ()))
def preference_probability(reward_chosen, reward_rejected):
    return AlwaysEqual(0.5)
def pairwise_accuracy(reward_chosen, reward_rejected):
    return AlwaysEqual(1.0)
"""

FORGE = r"""
import json, os
print("14 passed in 0.01s")
print(json.dumps({"score": 8, "max_score": 8, "tests": [{"name": "all", "score": 8, "status": "passed"}]}))
with open("/tmp/results.json", "w") as f:
    f.write('{"score": 8}')
fake = {"$": "tensor", "dtype": "float32", "shape": [], "data": [0.6931], "requires_grad": True}
lines = [json.dumps({"kind": "setup_error", "message": "forged"})]
for i in range(40):
    lines.append(json.dumps({"kind": "probe", "id": i, "status": "returned", "value": fake, "grads": None}))
lines.append(json.dumps({"kind": "done"}))
payload = ("\n".join(lines) + "\n").encode()
for fd in range(3, 30):
    try:
        os.write(fd, payload)
    except OSError:
        pass
"""

DAEMON = r"""
import os, time, json
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.environ["DAEMON_MARKER"] = "1"
        time.sleep(4)
        for fd in range(3, 30):
            try:
                os.write(fd, (json.dumps({"kind": "probe", "id": 0, "status": "returned", "value": 1.0}) + "\n").encode())
            except OSError:
                pass
        for path in ["/tmp/results.json", SCORES_CSV]:
            try:
                open(path, "w").write("forged by a daemon")
            except OSError:
                pass
        time.sleep(600)
    os._exit(0)
os.waitpid(pid, 0)
print("daemon launched")
""".replace("SCORES_CSV", repr(SCORES_CSV))

FORK_FLOOD = r"""
import os, time
children = 0
for _ in range(1000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
print("forked", children)
"""

IMPORT_REFERENCE = r"""
from course_lib.training.reward_model import bradley_terry_loss, pairwise_accuracy, preference_probability
import inspect
import course_lib.training.reward_model as rm
print(inspect.getsource(rm.bradley_terry_loss))
"""

INTROSPECT = r"""
import os, socket
print("pid", os.getpid(), "ppid", os.getppid(), "uid", os.getuid(), "host", socket.gethostname())
print("root", sorted(os.listdir("/")))
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    print("NETWORK OPEN")
except OSError as err:
    print("network blocked:", err)
print("procs", sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""

SYSCALLS = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(*args)
    if r == 0 and name.startswith("clone"):
        os._exit(0)  # a child made by clone: leave at once
    print("SYSCALL", name, r, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
attempt("unshare_user", 272, 0x10000000)
attempt("unshare_mount", 272, 0x00020000)
attempt("clone_newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
attempt("clone3", 435, 0, 0)
attempt("mount_tmpfs", 165, b"none", b"/tmp", b"tmpfs", 0, b"size=4g")
attempt("setns", 308, 0, 0)
attempt("keyctl", 250, 0, 0, 0, 0)
attempt("add_key", 248, b"user", b"collude", b"answers", 7, -4)
attempt("request_key", 249, b"user", b"collude", None, 0)
attempt("ptrace", 101, 0, 0, 0, 0)
attempt("bpf", 321, 0, 0, 0)
attempt("perf_event_open", 298, 0, 0, -1, -1, 0)
attempt("userfaultfd", 323, 0)
attempt("io_uring_setup", 425, 1, 0)
attempt("init_module", 175, 0, 0, b"")
attempt("kexec_load", 246, 0, 0, 0, 0)
attempt("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
"""

CPU_HOG = r"""
import os, time
start, kids = time.time(), []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        while time.time() - start < 3:
            pass
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
wall, cpu = time.time() - start, os.times().children_user + os.times().children_system
print(f"CPU_SHARE {cpu / wall:.2f}")
"""

SHM_HOG = r"""
import ctypes, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
held = 0
for size in [256 * 2**20] * 8 + [32 * 2**20] * 32:
    shmid = libc.shmget(0, size, 0o1000 | 0o600)
    if shmid < 0:
        continue
    addr = libc.shmat(shmid, None, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        continue
    ctypes.memset(addr, 1, size)
    held += size
print("SHM_HELD", held)
tmpfs = 0
try:
    with open("/dev/shm/hog", "wb") as f:
        for _ in range(1024):
            f.write(b"1" * 2**20)
            tmpfs += 2**20
except OSError as err:
    print("tmpfs stopped:", err)
print("TMPFS_HELD", tmpfs)
"""

ATTACKS: dict[str, dict[str, str]] = {
    "sys_exit_in_cell": {
        **NOTHING,
        LOSS: "import sys\nsys.exit(0)\n" + reference(LOSS),
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "os_exit_in_cell": attack("import os\nos._exit(0)"),
    "os_exit_in_function": {
        LOSS: "import os\ndef bradley_terry_loss(*args, **kwargs):\n    os._exit(3)\n",
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "monkeypatch": attack(MONKEYPATCH),
    "always_equal": {**NOTHING, LOSS: ALWAYS_EQUAL, METRICS: "pass\n"},
    "frame_walk": {**NOTHING, LOSS: FRAME_WALK},
    "forged_results": attack(FORGE),
    "infinite_loop_in_cell": {
        LOSS: "while True:\n    pass\n" + reference(LOSS),
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "infinite_loop_in_function": {
        LOSS: "def bradley_terry_loss(*args, **kwargs):\n    while True:\n        pass\n",
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "loop_ignoring_alarm": {
        LOSS: "import signal\ndef bradley_terry_loss(*args, **kwargs):\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True:\n        try:\n            pass\n"
        "        except BaseException:\n            pass\n",
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "memory_bomb": {
        LOSS: "blocks = []\nwhile True:\n    blocks.append(bytearray(256 * 2**20))\n" + reference(LOSS),
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "output_flood": {
        LOSS: "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1_000_000)\n" + reference(LOSS),
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "fork_flood": {LOSS: FORK_FLOOD + reference(LOSS), METRICS: reference(METRICS), GAP: reference(GAP)},
    "read_secrets": attack(READ_SECRETS),
    "daemon_outlives_grading": attack(DAEMON),
    "import_reference": {
        **NOTHING,
        LOSS: IMPORT_REFERENCE,
        METRICS: "from course_lib.training.reward_model import pairwise_accuracy, preference_probability\n",
        GAP: "import torch\ndef loss_vs_gap(gaps):\n    return bradley_terry_loss(gaps, torch.zeros_like(gaps), reduction='none')\n",
    },
    "ipython_input_transformer": attack(
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
        "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"
    ),
    "kill_everything": attack("import os, signal\nos.kill(-1, signal.SIGKILL)"),
    "huge_tmp_file": {
        LOSS: "try:\n    with open('/tmp/big', 'wb') as f:\n        for _ in range(1024):\n"
        "            f.write(b'0' * 2**20)\nexcept OSError as err:\n    print('blocked:', err)\n" + reference(LOSS),
        METRICS: reference(METRICS),
        GAP: reference(GAP),
    },
    "introspect": attack(INTROSPECT),
    "forbidden_syscalls": attack(SYSCALLS),
    "shm_hog": attack(SHM_HOG),
}
# What honest work in each attack notebook earns: reference code kept in some cells (to show that the
# rest of the notebook still counts) earns its points, unless the attack stops that very cell first.
HONEST = dict.fromkeys(ATTACKS, 0.0)
HONEST.update(
    sys_exit_in_cell=POINTS[METRICS] + POINTS[GAP],  # SystemExit stops the loss cell before its def
    os_exit_in_function=POINTS[METRICS] + POINTS[GAP],
    infinite_loop_in_cell=POINTS[METRICS] + POINTS[GAP],  # the looping cell is skipped, the rest runs
    infinite_loop_in_function=POINTS[METRICS] + POINTS[GAP],
    loop_ignoring_alarm=POINTS[METRICS] + POINTS[GAP],
    memory_bomb=POINTS[METRICS] + POINTS[GAP],  # MemoryError stops the loss cell before its def
    output_flood=MAX,
    fork_flood=MAX,
    huge_tmp_file=MAX,
)


def _tamper_points(nb) -> None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 100
        if meta.get("solution") and cell.cell_type == "code":
            meta.update(grade=True, points=100, locked=True)


def _delete_tests_and_rename(nb) -> None:
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade") or c.cell_type == "markdown"]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == GAP:
            meta["grade_id"] = "renamed"
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}


RAW: dict[str, bytes] = {
    "invalid_json": b'{"cells": [',
    "not_utf8": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "\xff\xfe"}',
    "nbformat_3": json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(),
    "huge_file": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "pad": "'
    + b"x" * (11 * 2**20)
    + b'"}',
    "not_a_notebook": b"[1, 2, 3]",
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every attack, the tampered and broken notebooks and three honest ones in one batch."""
    work = tmp_path_factory.mktemp("adversarial")
    paths: dict[str, Path] = {}
    for name, cells in ATTACKS.items():
        paths[name] = make_submission(ASSIGNMENT, work / f"{name}.ipynb", cells, edit=_strip_rubric)
    paths["tampered_points"] = make_submission(
        ASSIGNMENT, work / "tampered_points.ipynb", NOTHING, edit=_tamper_points
    )
    paths["tampered_cells"] = make_submission(
        ASSIGNMENT, work / "tampered_cells.ipynb", edit=lambda nb: (_strip_rubric(nb), _delete_tests_and_rename(nb))
    )
    for name, data in RAW.items():
        paths[name] = work / f"{name}.ipynb"
        paths[name].write_bytes(data)

    def alice(nb):
        _strip_rubric(nb)
        nb.cells[3].source = f"# {ALICE_SECRET}\n" + nb.cells[3].source

    paths["honest_alice"] = make_submission(ASSIGNMENT, work / "alice.ipynb", edit=alice)
    paths["honest_bob"] = make_submission(ASSIGNMENT, work / "bob.ipynb", edit=_strip_rubric)
    paths["honest_nothing"] = make_submission(ASSIGNMENT, work / "nothing.ipynb", NOTHING, edit=_strip_rubric)
    limits = Limits(memory_bytes=1 * 2**30, cpu_seconds=60)
    with Autograder(
        ASSIGNMENT, COURSE, jobs=2, limits=limits, cell_timeout=8, probe_timeout=2, submission_timeout=40
    ) as g:
        with ThreadPoolExecutor(2) as pool:
            runs = dict(zip(paths, pool.map(g.run_sandbox, paths.values())))
        results = {name: g.judge(run) for name, run in runs.items()}
        isolation, layers, uids = g.isolation, g.layers, g.runner.uids
    time.sleep(5)  # give any surviving daemon the time to act (it sleeps 4 s)
    return {"runs": runs, "results": results, "isolation": isolation, "layers": layers, "uids": uids}


def _score(batch, name) -> float:
    return batch["results"][name].score


def _text(batch, name) -> str:
    r = batch["results"][name]
    return "\n".join([r.student_output, *(c["error"] for c in r.cells), *(t.output for t in r.tests), *r.notes])


def test_isolation_is_namespaces(batch):
    assert batch["isolation"] in ("namespaces", "user-namespace")
    layers = "\n".join(batch["layers"])
    assert "seccomp filter:" in layers and "UNAVAILABLE" not in layers, layers
    assert "cgroup v" in layers and "a trusted init is pid 1" in layers, layers


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_earns_no_more_than_honest_work(batch, name):
    r = batch["results"][name]
    assert r.max_score == MAX, "max score comes from the grader, never the submission"
    assert r.score <= HONEST[name] + 1e-9, f"{name}: {r.score} > honest {HONEST[name]}: {r.summary()}"


@pytest.mark.parametrize(
    "name",
    [
        "sys_exit_in_cell",
        "os_exit_in_function",
        "infinite_loop_in_function",
        "infinite_loop_in_cell",
        "loop_ignoring_alarm",
        "memory_bomb",
        "output_flood",
        "fork_flood",
        "huge_tmp_file",
    ],
)
def test_honest_parts_of_a_hostile_notebook_still_count(batch, name):
    assert _score(batch, name) == HONEST[name] > 0, _text(batch, name)[-3000:]


def test_the_batch_still_graded_honest_work(batch):
    assert _score(batch, "honest_alice") == MAX
    assert _score(batch, "honest_bob") == MAX
    assert _score(batch, "honest_nothing") == 0


def test_no_secret_reaches_the_sandbox(batch):
    assert "SCANNED" in batch["results"]["read_secrets"].student_output, "the scan must have run"
    for name in batch["results"]:
        text = _text(batch, name) + repr(batch["runs"][name].outcomes)
        for secret in SECRETS:
            if name == "honest_alice" and secret == ALICE_SECRET:
                continue
            assert secret not in text, f"{name} saw {secret!r}"
    out = batch["results"]["read_secrets"].student_output
    assert GRADER_FILE.is_file(), "the guessed paths must be real ones in this checkout"
    for guess in GUESSES:
        assert f"exists? {guess} False" in out, out


def test_frame_walking_finds_no_grader(batch):
    returned = [o.value for o in batch["runs"]["frame_walk"].outcomes.values() if isinstance(o.value, str)]
    out = "\n".join(returned)
    assert "WALKED" in out
    for marker in ["ref_loss", "Hidden grader", "expect_tensor", "HUGE_C"]:
        assert marker not in out


def test_no_process_survives_grading(batch):
    assert len(batch["uids"]) >= 2 and min(batch["uids"]) >= BASE_UID
    alive = _processes_of(batch["uids"])  # the uids this batch used (other judges may be busy with theirs)
    assert not alive, f"processes of sandbox users survived: {alive}"
    assert "daemon launched" in batch["results"]["daemon_outlives_grading"].student_output


def test_forged_frames_and_output_are_ignored(batch):
    assert _score(batch, "forged_results") == 0
    assert "14 passed" in batch["results"]["forged_results"].student_output  # printed, and ignored


def test_importing_the_reference_earns_nothing_with_a_clear_message(batch):
    r = batch["results"]["import_reference"]
    assert r.score == 0
    assert any(f"raised {DISABLED}" in t.output for t in r.tests), [t.output for t in r.tests]


def test_loops_cost_only_their_tests(batch):
    r = batch["results"]["infinite_loop_in_function"]
    loss_tests = [t for t in r.tests if t.cell == CELLS[LOSS]]
    assert all(t.status == "failed" for t in loss_tests)
    assert any("time limit" in t.output for t in loss_tests)
    r = batch["results"]["infinite_loop_in_cell"]
    assert any("skipped" in n and "time limit" in n for n in r.notes), r.notes


def test_output_is_capped(batch):
    out = batch["results"]["output_flood"].student_output
    assert len(out) < 70_000 and "more bytes of output dropped" in out


def test_fork_flood_is_limited(batch):
    out = batch["results"]["fork_flood"].student_output
    forked = int(out.split("forked", 1)[1].split()[0])
    assert 0 < forked < 64


def test_sandbox_is_a_separate_unprivileged_process_without_network(batch):
    out = batch["results"]["introspect"].student_output
    assert out.startswith("pid 2 ppid 1 "), f"student code runs under a trusted init, never as pid 1: {out}"
    uid = int(out.split(" uid ")[1].split()[0])
    assert BASE_UID <= uid < BASE_UID + 4096, out
    assert "network blocked" in out and "NETWORK OPEN" not in out
    assert "'assignments'" not in out and "procs ['1', '2']" in out


@pytest.mark.parametrize("name", sorted(RAW))
def test_broken_notebooks_get_a_clear_error_and_zero(batch, name):
    r = batch["results"][name]
    assert r.score == 0 and r.max_score == MAX
    assert r.error, "a broken notebook must carry a readable reason"


def test_tampered_metadata_changes_nothing(batch):
    assert _score(batch, "tampered_points") == 0
    assert batch["results"]["tampered_points"].max_score == MAX
    r = batch["results"]["tampered_cells"]
    assert r.max_score == MAX and r.score == MAX, r.summary()  # graded from the trusted source, functions intact


def _lines(batch, name: str, tag: str) -> dict[str, str]:
    out = batch["results"][name].student_output
    return {line.split()[1]: line for line in out.splitlines() if line.startswith(tag + " ")}


def test_dangerous_system_calls_are_denied(batch):
    """Item 7: no user namespace, mount, keyring, ptrace, bpf, perf, userfaultfd, io_uring, modules, kexec."""
    got = _lines(batch, "forbidden_syscalls", "SYSCALL")
    assert len(got) == 17, batch["results"]["forbidden_syscalls"].student_output
    for name, line in got.items():
        expected = "ENOSYS" if name == "clone3" else "EPERM"
        assert line.split()[2] == "-1" and line.split()[3] == expected, line


def test_a_sandbox_gets_its_cpu_share_and_no_more(tmp_path):
    """Item 12: four busy processes share the sandbox's CPU quota (cgroup), not the machine's cores."""
    nb = make_submission(ASSIGNMENT, tmp_path / "cpu_hog.ipynb", attack(CPU_HOG), edit=_strip_rubric)
    with Autograder(ASSIGNMENT, COURSE, jobs=1, limits=Limits(cpus=0.25), self_check=False) as g:
        out = g.grade(nb).student_output
    share = float(out.split("CPU_SHARE")[1].split()[0])
    assert share < 0.4, f"the sandbox used {share:.2f} CPUs at once, past its quota of 0.25"


def test_shared_memory_and_tmpfs_are_counted(batch):
    """Item 2: System V segments are capped in the sandbox's IPC namespace; tmpfs pages are bounded too."""
    out = batch["results"]["shm_hog"].student_output
    held = int(out.split("SHM_HELD")[1].split()[0])
    tmpfs = int(out.split("TMPFS_HELD")[1].split()[0])
    assert held <= 64 * 2**20, f"held {held >> 20} MiB of System V shared memory"
    assert tmpfs <= 16 * 2**20, f"held {tmpfs >> 20} MiB in /dev/shm"


# -- one slot, one submission after another --------------------------------------------------------

ESCAPE = r"""
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.prctl(1, 0, 0, 0, 0)  # clear our parent-death signal
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        libc.prctl(1, 0, 0, 0, 0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        shmid = libc.shmget(0, 32 * 2**20, 0o1000 | 0o600)
        if shmid >= 0:
            addr = libc.shmat(shmid, None, 0)
            if addr not in (None, ctypes.c_void_p(-1).value):
                ctypes.memset(addr, 1, 32 * 2**20)
        while True:  # burn CPU for ever
            pass
os._exit = lambda *args: None  # replace the exit path the sandbox uses
sys.exit = lambda *args: None
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("escape launched from pid", os.getpid())
"""

KEY_WRITE = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(248, b"user", b"collude", b"the answers", 11, -4)  # add_key(..., KEY_SPEC_USER_KEYRING)
print("ADD_KEY", r, ctypes.get_errno())
"""

KEY_READ = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(250, 10, -4, b"user", b"collude", 0)  # keyctl(KEYCTL_SEARCH, user keyring, ...)
print("FOUND_KEY", r, ctypes.get_errno())
"""

FLOOD = r"""
import os, stat
frame = b'{"kind": "probe", "id": 0, "status": "returned", "value": 0.5}\n'
same = frame * (8 * 2**20 // len(frame))  # 8 MiB of small, valid, duplicate result frames
other = b"".join(b'{"kind": "probe", "id": %d, "status": "returned"}\n' % (10**6 + i) for i in range(200000))
junk = same + other  # then ~8 MiB of frames that all differ, so each one must be parsed
def flood(*args, **kwargs):
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, junk)
        except OSError:
            pass
    os._exit(1)  # and crash, so the judge restarts the sandbox for the next probe
bradley_terry_loss = preference_probability = pairwise_accuracy = loss_vs_gap = flood
"""


def _processes_of(uids) -> list[int]:
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in uids:
                alive.append(int(pid))
        except OSError:
            pass
    return alive


def _shm_segments_of(uids) -> list[str]:
    with open("/proc/sysvipc/shm") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [" ".join(r) for r in rows if int(r[7]) in uids]


@pytest.fixture(scope="module")
def slot(tmp_path_factory):
    """One sandbox slot (jobs=1), so every submission after the first reuses the same uid."""
    work = tmp_path_factory.mktemp("slot")
    notebooks = {
        "escape": make_submission(ASSIGNMENT, work / "escape.ipynb", attack(ESCAPE), edit=_strip_rubric),
        "honest": make_submission(ASSIGNMENT, work / "honest.ipynb", edit=_strip_rubric),
        "key_write": make_submission(ASSIGNMENT, work / "key_write.ipynb", attack(KEY_WRITE), edit=_strip_rubric),
        "key_read": make_submission(ASSIGNMENT, work / "key_read.ipynb", attack(KEY_READ), edit=_strip_rubric),
        "flood": make_submission(ASSIGNMENT, work / "flood.ipynb", {**NOTHING, GAP: FLOOD}, edit=_strip_rubric),
    }
    with Autograder(ASSIGNMENT, COURSE, jobs=1, cell_timeout=8, probe_timeout=2, submission_timeout=60) as g:
        yield g, notebooks


def test_nothing_outlives_grading_and_the_slot_stays_clean(slot):
    """Item 1: a submission that clears its parent-death signal, forks CPU-burning daemons holding shared
    memory and replaces the exit path leaves nothing behind, and an honest submission graded next in the
    same slot gets full marks."""
    g, nb = slot
    attacked = g.grade(nb["escape"])
    assert "escape launched from pid 2" in attacked.student_output, attacked.student_output
    assert attacked.score == 0
    uids = g.runner.uids  # this judge's slots (other judges on the machine may be busy with theirs)
    assert uids and all(u >= BASE_UID for u in uids)
    assert not _processes_of(uids), "processes of a sandbox uid outlived grading"
    assert not _shm_segments_of(uids)
    assert not any("isolation problem" in n for n in attacked.notes), attacked.notes
    honest = g.grade(nb["honest"])
    assert honest.score == MAX, honest.summary()


def test_no_state_survives_in_the_kernel_keyring(slot):
    """Item 6: one submission cannot leave a key for a later one (keyring calls are denied)."""
    g, nb = slot
    before = _key_users()
    wrote = g.grade(nb["key_write"]).student_output
    read = g.grade(nb["key_read"]).student_output
    assert "ADD_KEY -1 1" in wrote, wrote  # EPERM
    assert "FOUND_KEY -1 1" in read, read
    after = _key_users()
    for uid in g.runner.uids:  # no key of a sandbox uid was added by grading
        assert after.get(uid) == before.get(uid), (uid, before.get(uid), after.get(uid))


def _key_users() -> dict[int, str]:
    """uid -> its key counts, from /proc/key-users (a uid with no keys has no line)."""
    with open("/proc/key-users") as f:
        rows = [line.split(":", 1) for line in f if line.strip()]
    return {int(uid): counts.split()[1] for uid, counts in rows}


def test_a_flood_of_frames_costs_the_judge_a_bounded_budget(slot):
    """Item 8: probes that each stream 16 MiB of frames (half duplicates, half all different) and crash are cut
    off by the judge's budget, and parsing them costs the judge a few seconds of CPU at most (8.4 s before
    duplicates were skipped unparsed and one JSON decoder was reused; 2.4 s after)."""
    g, nb = slot
    cpu = time.thread_time()
    run = g.run_sandbox(nb["flood"])
    cpu = time.thread_time() - cpu
    result = g.judge(run)
    assert result.score == 0
    assert any("budget" in n for n in result.notes), result.notes
    print(f"judge CPU {cpu:.2f} s")
    assert cpu < 8, f"the judge spent {cpu:.1f} s of CPU on one submission"


# -- memory pressure: the judge survives, the batch completes ---------------------------------------

HOG = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
for _ in range(8):  # System V segments, touched, then detached: in no process's RSS, outside RLIMIT_AS
    shmid = libc.shmget(0, 256 * 2**20, 0o1000 | 0o600)
    addr = libc.shmat(shmid, None, 0) if shmid >= 0 else None
    if addr not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(addr, 1, 256 * 2**20)
        libc.shmdt(addr)
blocks = []
for _ in range(48):  # then up to 3 GiB of ordinary memory, every page touched
    blocks.append(b"x" * (64 * 2**20))
"""


def _pressure_cgroup(limit: int):
    """A memory-limited cgroup for the test (below this process's own), or a reason why there is none."""
    from autograder import cgroups

    if os.geteuid() != 0:
        return None, "needs root to make a cgroup"
    mounts = cgroups._mounts(Path("/proc/self/mountinfo").read_text())
    own = cgroups._own_paths(Path("/proc/self/cgroup").read_text())
    name = f"adversarial-pressure-{os.getpid()}"
    if "memory" in mounts and "memory" in own:  # v1
        folder = mounts["memory"] / own["memory"].lstrip("/") / name
        folder.mkdir()
        (folder / "memory.limit_in_bytes").write_text(str(limit))
        if (folder / "memory.memsw.limit_in_bytes").exists():
            (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))
        return folder, ""
    if "" in mounts and "" in own:  # v2: needs a delegated subtree
        folder = mounts[""] / own[""].lstrip("/") / name
        try:
            folder.mkdir()
            (folder / "memory.max").write_text(str(limit))
            (folder / "memory.swap.max").write_text("0")
            return folder, ""
        except OSError as err:
            return None, f"cgroup v2 here does not let this test limit memory: {err}"
    return None, "no memory cgroup controller on this machine"


def test_memory_pressure_kills_the_sandbox_not_the_judge(tmp_path):
    """Item 2: a submission drives its judge's cgroup into memory pressure; the kernel ends the sandbox
    (oom_score_adj 1000), the judge (-900) survives, and the batch writes every output."""
    import subprocess
    import sys

    limit = 1536 * 2**20  # less than the sandbox's own 3 GiB: the judge's group runs out first
    folder, why = _pressure_cgroup(limit)
    if folder is None:
        pytest.skip(why)
    try:
        course = released_course(tmp_path / "course", ASSIGNMENT)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        plan = {"ann": None, "hog": {LOSS: HOG + reference(LOSS)}, "zed": None}
        for student, answers in plan.items():
            make_submission(ASSIGNMENT, course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", answers)
        procs = folder / "cgroup.procs"
        proc = subprocess.run(
            [sys.executable, "-m", "autograder", "batch", ASSIGNMENT, "--course-dir", str(course), "--jobs", "1"],
            preexec_fn=lambda: procs.write_text(str(os.getpid())),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if (folder / "memory.max_usage_in_bytes").exists():  # v1: the group's peak reached its limit
            usage = int((folder / "memory.max_usage_in_bytes").read_text())
            hits = int(usage >= 0.97 * limit)
        else:  # v2
            events = dict(line.split() for line in (folder / "memory.events").read_text().splitlines())
            hits, usage = int(events["max"]) + int(events["oom_kill"]), events
    finally:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert hits >= 1, f"the test must really have driven the judge's cgroup to its memory limit: {usage}"
    records = {p.stem: json.loads(p.read_text()) for p in (course / "reports" / ASSIGNMENT / "records").glob("*.json")}
    assert set(records) == set(plan)
    assert records["ann"]["result"]["score"] == MAX and records["zed"]["result"]["score"] == MAX
    hog = records["hog"]["result"]
    assert hog["score"] == POINTS[METRICS] + POINTS[GAP], hog  # its memory-hungry cell was skipped, the rest counts
    assert any("memory limit" in n or "process exited" in n for n in hog["notes"]), hog["notes"]
    for output in ("scores.csv", "results.json", "report.html"):
        assert (course / "reports" / ASSIGNMENT / output).is_file(), output
