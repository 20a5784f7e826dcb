"""The judge's end of the sandbox: start the zygote, send a job, read its frames within limits.

:class:`Zygote` starts ``python -m autograder.zygote`` once; :func:`run_once` sends a job, reads
the result pipe line by line (each line a JSON frame, parsed as untrusted data) and the output pipe
(kept up to a cap), and kills the job's process tree when a cell or probe overruns, or when the
job costs the judge more than its budget (bytes of frames, the judge's own CPU time).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

FRAME_LIMIT = 16 * 2**20  # bytes of result frames per run
OUTPUT_LIMIT = 64 * 2**10  # bytes of student output kept
GRACE = 2.0  # seconds after a probe's own alarm before the process is killed
KILL_WAIT = 5.0
KEPT = ("cell_start", "cell", "probe_start", "probe", "setup_error", "done")  # frame kinds the judge reads
ZYGOTE_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.environ.get("HOME", "/tmp"),
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class ZygoteError(RuntimeError):
    """The zygote could not start or stopped answering (a setup problem)."""


class Zygote:
    """A warm interpreter with ``modules`` imported, forking one sandbox per job."""

    def __init__(self, modules: list[str]):
        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(child.fileno()), ",".join(modules)],
            pass_fds=[child.fileno()],
            env=ZYGOTE_ENV,
            cwd="/",
        )
        child.close()
        self._lock = threading.Lock()
        self._hello: dict | None = None

    def hello(self) -> dict:
        """Wait for the zygote to finish importing; returns its isolation level and preload report."""
        with self._lock:
            if self._hello is None:
                data = self._sock.recv(65536)
                if not data:
                    raise ZygoteError(f"the sandbox zygote exited while starting (exit code {self.proc.wait()})")
                self._hello = json.loads(data)
        return self._hello

    @property
    def level(self) -> str:
        return self.hello()["level"]

    def spawn(self, fds: list[int], level: str, cgroup: list[str]) -> int:
        """Fork a supervisor holding ``fds`` (job in, results out, output out) in ``cgroup``; returns its pid."""
        header = json.dumps({"level": level, "cgroup": cgroup}).encode()
        with self._lock:
            socket.send_fds(self._sock, [header], fds)
            reply = self._sock.recv(65536)
        if not reply:
            raise ZygoteError("the sandbox zygote stopped answering")
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        try:
            self._sock.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class RunLog:
    """Everything one sandbox run produced, parsed but not judged."""

    frames: list[dict] = field(default_factory=list)
    output: bytes = b""
    output_dropped: int = 0
    killed: str | None = None  # why the judge killed the run, if it did
    kill_kind: str | None = None  # "timeout", "total_timeout", "too_much_data" or "judge_cpu"
    received: int = 0  # bytes of frames read
    ended_in: tuple[str, int] | None = None  # ("cell", i) or ("probe", id) running when the run ended early
    setup_error: str | None = None
    seconds: float = 0.0


def _kill(pidfd: int) -> None:
    with contextlib.suppress(OSError):  # already gone
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _wait_exit(pidfd: int, timeout: float) -> None:
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ)  # readable once the process has exited
    sel.select(timeout)
    sel.close()


@dataclass
class Budget:
    """What one submission may cost the judge, over all its sandbox runs."""

    frame_bytes: int = 32 * 2**20  # result frames read and parsed
    judge_cpu: float = 10.0  # seconds of the judge's own CPU (reading, parsing); a normal one needs < 1
    restarts: int = 8  # fresh sandboxes after a probe kills or hangs its process


def run_once(
    zygote: Zygote,
    job: dict,
    cell_timeout: float,
    total_deadline: float | None = None,
    cgroup: list[str] | None = None,
    frame_budget: int = FRAME_LIMIT,
    cpu_deadline: float | None = None,
) -> RunLog:
    """One sandbox run of ``job``: all cells, then the job's probes in order.

    ``cell_timeout`` bounds each cell; each probe gets its own ``timeout`` plus a grace
    period (the sandbox's own alarm fires first); ``total_deadline`` (``time.monotonic()``)
    bounds the whole run. ``frame_budget`` bytes of frames may be read, and this thread may use
    CPU until ``time.thread_time()`` reaches ``cpu_deadline``. On any overrun the process tree is
    killed and the log says where. Only frames the judge can use are kept (the first of each cell
    and probe), so a flood of frames costs bytes read, not memory.
    """
    job_r, job_w = os.pipe()
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    start = time.monotonic()
    try:
        pid = zygote.spawn([job_r, result_w, output_w], job["sandbox"]["level"], cgroup or [])
        pidfd = os.pidfd_open(pid)  # the supervisor waits for its child, so it is alive here
    finally:
        for fd in (job_r, result_w, output_w):
            os.close(fd)
    log = RunLog()
    timeouts = {p["id"]: p["timeout"] for p in job["probes"]}
    writer = threading.Thread(target=_write_all, args=(job_w, json.dumps(job).encode()), daemon=True)
    writer.start()
    sel = selectors.DefaultSelector()
    sel.register(result_r, selectors.EVENT_READ, "result")
    sel.register(output_r, selectors.EVENT_READ, "output")
    buffer, seen, repeated = b"", set(), set()
    frame_limit = min(FRAME_LIMIT, frame_budget)
    phase_deadline, current, give_up, finished = start + cell_timeout, None, None, False
    # give_up: once set, the tree has been killed and only the pipes' last bytes are read until then

    def kill(kind: str, reason: str) -> None:
        nonlocal give_up
        if give_up is None:
            log.kill_kind, log.killed = kind, reason
            _kill(pidfd)
            give_up = time.monotonic() + KILL_WAIT

    try:
        while sel.get_map():
            now = time.monotonic()
            if total_deadline is not None and now > total_deadline:
                kill("total_timeout", "the submission ran past its total time limit")
            if now > phase_deadline:
                kill("timeout", f"{_running(job, current)} ran past its time limit" if current else "time limit")
            if cpu_deadline is not None and time.thread_time() > cpu_deadline:
                kill("judge_cpu", "cost the judge more CPU time than its budget")
            if give_up is not None and now > give_up:
                break  # killed, and the pipes are still open: nothing more will come
            for key, _ in sel.select(timeout=0.2):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                if key.data == "output":
                    keep = max(0, OUTPUT_LIMIT - len(log.output))
                    log.output += chunk[:keep]
                    log.output_dropped += len(chunk) - len(chunk[:keep])
                    continue
                if give_up is not None:
                    continue  # killed or finished: drain, do not parse
                log.received += len(chunk)
                if log.received > frame_limit:
                    kill("too_much_data", f"returned more than {frame_limit / 2**20:.1f} MiB of data")
                    continue
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line in repeated:
                        continue  # a line seen before can add nothing: its frame was kept or skipped then
                    if len(line) <= 256 and len(repeated) < 4096:
                        repeated.add(line)
                    frame = _parse_frame(line)
                    kind = frame and frame.get("kind")
                    ident = (kind, str(frame.get("index", frame.get("id")))[:40]) if frame else None
                    if kind not in KEPT or ident in seen or not _expected(frame, len(job["cells"]), timeouts):
                        continue
                    seen.add(ident)
                    log.frames.append(frame)
                    if kind == "cell_start" and type(frame.get("index")) is int:
                        current = ("cell", frame["index"])
                        phase_deadline = time.monotonic() + cell_timeout
                    elif kind == "probe_start" and frame.get("id") in timeouts:
                        current = ("probe", frame["id"])
                        phase_deadline = time.monotonic() + timeouts[frame["id"]] + GRACE
                    elif kind in ("cell", "probe"):
                        current = None
                    elif kind == "done":
                        finished = True
                        break
                    elif kind == "setup_error" and len(log.frames) == 1:
                        # only the worker sends it, before any student code runs: later ones are forged
                        log.setup_error = str(frame.get("message"))[:500]
                if finished and give_up is None:  # all results are in: end the tree now, read what it printed
                    _kill(pidfd)
                    give_up = time.monotonic() + KILL_WAIT
    finally:
        _kill(pidfd)  # whatever happened, nothing of this job survives it
        _wait_exit(pidfd, KILL_WAIT)
        os.close(pidfd)
        sel.close()
        for fd in (result_r, output_r):
            os.close(fd)
        writer.join(timeout=1)
    log.ended_in = current  # None unless a cell or probe was still running
    log.seconds = time.monotonic() - start
    return log


def _running(job: dict, current: tuple[str, int]) -> str:
    """The cell or probe ``current`` names, as the reports name it: its label, not its index in this job."""
    kind, ident = current
    if kind == "cell":
        return job["cells"][ident]["label"]  # notebook.cell_label: the position in the student's notebook
    probe = next((p for p in job["probes"] if p["id"] == ident), {})
    return probe.get("label") or f"probe {ident}"  # e.g. "bradley_terry_loss(...)"


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass  # the sandbox died before reading its job
    finally:
        os.close(fd)


def _expected(frame: dict, cells: int, probes: dict) -> bool:
    """Whether a frame names a cell or probe of this job (forged ones for others would only cost memory)."""
    if frame["kind"] in ("cell_start", "cell"):
        index = frame.get("index")
        return type(index) is int and 0 <= index < cells
    if frame["kind"] in ("probe_start", "probe"):
        return type(frame.get("id")) in (int, str) and frame["id"] in probes
    return True


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # one decoder: json.loads(**kw) builds one per call


def _parse_frame(line: bytes) -> dict | None:
    try:
        frame = _DECODER.decode(line.decode())
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return frame if isinstance(frame, dict) else None
