"""``python -m autograder batch --scheduler ADDRESS``: grade on a Dask cluster, one warm grader per worker.

The batch (``autograder/batch.py``) scans, digests, records and reports exactly as on one machine; only
the grading moves. :class:`DaskGrader` is the batch's grader: it registers a :class:`GraderPlugin` with
the scheduler, which every worker (and every worker that joins or restarts later) sets up: it unpacks
the files the plugin carries (``graders/conftest.py``, ``graders/<assignment>/``, ``source/<assignment>/``)
into a private course folder in its Dask scratch space and opens an :class:`~autograder.service.Autograder`
there, zygote, sandboxes and self-check included. Workers need no copy of the course. When the batch ends
each worker keeps that grader warm for ``--keep-warm`` seconds (600): the next batch of the same files
(a late submission, a regrade) adopts it and starts at once; other files, or the time running out, close it. Each submission is one
task: the bytes the batch read go to a worker, which writes them to a private file, runs them in its
sandboxes, judges them, and returns ``SubmissionResult.to_dict()``; results stream back as they finish.

Faults. A worker that dies takes no record with it: the scheduler hands its task to another worker.
The client keeps no more tasks in flight than the cluster has threads, so a worker holds only the
submission it is grading and a death implicates that one alone. One that kills its worker again and
again ends as Dask's ``KilledWorker`` after the scheduler's ``allowed-failures`` (default 3) + 1 deaths,
and is recorded with zero and a clear error; the cluster goes on. An unreachable scheduler is an error
in seconds that names the address. The plugin carries hidden graders, so give the cluster TLS
certificates (``--tls-ca-file``, ``--tls-cert``, ``--tls-key``, a ``tls://`` address) on any network
that others share; the plugin is removed from the scheduler when the batch ends (workers that join later
get nothing), and with ``--keep-warm 0`` from the workers too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError
from functools import cached_property
from multiprocessing import resource_tracker
from pathlib import Path, PurePosixPath

from distributed import WorkerPlugin

from autograder.assignment import Assignment, SetupError, assignment_paths, load_assignment
from autograder.batch import _times
from autograder.files import atomic_write
from autograder.notebook import read_notebook, source_roles
from autograder.results import SubmissionResult

KILLED = (
    "grading this submission crashed the autograder {times} (each time, the Dask worker grading it died); "
    "it was given zero: check the instructor report"
)
TLS_FIX = "use a tls:// address with --tls-ca-file, --tls-cert and --tls-key (README: Scale-out)"


def course_files(course_dir: Path, assignment: str) -> dict[str, bytes]:
    """What a worker needs of the course, ``{path relative to the course: bytes}``: the grader, its
    conftest and the source notebook's folder. Nothing of ``submitted/``, the gradebook or other assignments."""
    files = {}
    conftest = course_dir / "graders" / "conftest.py"
    if conftest.is_file():
        files["graders/conftest.py"] = conftest.read_bytes()
    for top in (course_dir / "graders" / assignment, course_dir / "source" / assignment):
        for path in sorted(top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(course_dir).as_posix()] = path.read_bytes()
    return files


def unpack_course(files: dict[str, bytes], dest: Path, assignment: str) -> None:
    """Write ``files`` (from :func:`course_files`) under ``dest``, replacing what an earlier version left there."""
    for top in (dest / "graders" / assignment, dest / "source" / assignment):
        shutil.rmtree(top, ignore_errors=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise SetupError(f"the grader plugin carries a file named {name!r}, outside the course directory")
        atomic_write(dest.joinpath(*rel.parts), data)  # atomic: another assignment's judge may read conftest.py


def _forget_modules(*paths: Path) -> None:
    """Drop from ``sys.modules`` what pytest imported from ``paths``, so that a new version is imported anew.

    pytest imports a grader as ``test_<assignment>`` and its conftest as ``conftest`` and keeps them
    for the life of the process; a worker outlives batches, and the instructor may edit the grader.
    """
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and any(Path(file).is_relative_to(path) for path in paths):
            del sys.modules[name]


_JUDGING = threading.Lock()  # pytest runs one session at a time in a process, whichever the assignment


def files_digest(files: dict[str, bytes], isolation: str | None) -> str:
    """Names a version of an assignment's course files (and the isolation asked for): a warm grader of the
    same digest grades exactly as a new one would."""
    h = hashlib.sha256(f"{isolation}\n".encode())
    for name in sorted(files):
        h.update(f"{name}\n{len(files[name])}\n".encode())
        h.update(files[name])
    return h.hexdigest()


class WarmGrader:
    """One worker's Autograder for one version of an assignment, in a thread of its own.

    The zygote dies with the thread that started it (``PR_SET_PDEATHSIG``), so no pool thread may
    start it, and the thread lives as long as the grader. Between batches it is parked for
    ``--keep-warm`` seconds (:data:`HELD`), so that the next batch of the same files starts at once;
    :meth:`close` ends the zygote and removes the unpacked files.
    """

    def __init__(self, assignment: str, digest: str, course: Path, nthreads: int, isolation, address: str):
        self.assignment, self.digest, self.course, self.nthreads = assignment, digest, course, nthreads
        self.grader, self.error, self._expiry = None, None, None
        self.ready, self._stop = threading.Event(), threading.Event()
        self._args = (isolation, address)

    def start(self, files: dict[str, bytes]) -> None:
        self._thread = threading.Thread(target=self._hold, args=(files,), name=f"autograder-{self.assignment}")
        self._thread.daemon = True
        self._thread.start()

    def _hold(self, files: dict[str, bytes]) -> None:
        from autograder.service import Autograder

        isolation, address = self._args
        try:
            self.course.mkdir(mode=0o700, exist_ok=True)
            with _JUDGING:  # the Autograder collects the grader's tests with pytest
                self._forget()
                unpack_course(files, self.course, self.assignment)
                self.grader = Autograder(self.assignment, self.course, jobs=self.nthreads, isolation=isolation)
        except Exception as err:
            self.error = SetupError(f"on Dask worker {address}: {err}")
            return
        finally:
            self.ready.set()
        self._stop.wait()
        self.grader.close()
        with _JUDGING:
            self._forget()
            for top in (self.course / "graders" / self.assignment, self.course / "source" / self.assignment):
                shutil.rmtree(top, ignore_errors=True)

    def _forget(self) -> None:
        _forget_modules(self.course / "graders" / self.assignment, self.course / "graders" / "conftest.py")

    def fits(self, digest: str, nthreads: int) -> bool:
        """Whether this grader, built and alive, can grade a batch of ``digest`` on ``nthreads`` threads."""
        alive = self.grader is not None and self.grader.runner.zygote.proc.poll() is None
        return alive and not self._stop.is_set() and (self.digest, self.nthreads) == (digest, nthreads)

    def park(self, seconds: float) -> None:
        """Keep it warm for ``seconds`` (until a batch adopts it), then close it."""
        self._expiry = threading.Timer(seconds, self._expire)
        self._expiry.daemon = True
        self._expiry.start()

    def adopt(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expire(self) -> None:
        with _HELD_LOCK:
            if HELD.get(self.assignment) is self:
                del HELD[self.assignment]
        self.close()

    def close(self) -> None:
        self.adopt()
        self._stop.set()
        self._thread.join()


HELD: dict[str, WarmGrader] = {}  # this worker process's graders, by assignment (one version each)
_HELD_LOCK = threading.Lock()


@atexit.register
def _close_held() -> None:
    """A worker that shuts down closes what it keeps warm (zygotes, cgroups, unpacked graders)."""
    with _HELD_LOCK:
        held = list(HELD.values())
        HELD.clear()
    for warm in held:
        warm.close()


class GraderPlugin(WorkerPlugin):
    """A warm Autograder on each worker, built from the course files this plugin carries.

    The files go to ``autograder-course/`` in the worker's scratch folder (Dask removes it with the
    worker, even one that was killed): one folder for every assignment, so that each grader sees the
    same ``graders/conftest.py`` path, which pytest insists on. A worker that still keeps a grader of the
    same files warm from an earlier batch (``keep_warm`` seconds after it) adopts it: no zygote to start,
    no self-check to run. Otherwise the old one is closed and a new one built.
    """

    def __init__(self, assignment: str, files: dict[str, bytes], isolation: str | None = None, keep_warm: float = 0):
        self.assignment, self.files, self.isolation, self.keep_warm = assignment, files, isolation, keep_warm
        self.digest = files_digest(files, isolation)
        self.name = f"autograder-{assignment}"  # a later batch of the same assignment replaces it

    async def setup(self, worker) -> None:
        nthreads, course = worker.state.nthreads, Path(worker.local_directory).resolve() / "autograder-course"
        with _HELD_LOCK:
            old = HELD.pop(self.assignment, None)
            if old is not None and old.fits(self.digest, nthreads):
                old.adopt()
                self.warm, self.adopted = old, True
            else:
                self.warm = WarmGrader(self.assignment, self.digest, course, nthreads, self.isolation, worker.address)
                self.adopted = False
            HELD[self.assignment] = self.warm
        files, self.files = self.files, None  # the unpacked copy is all this worker keeps
        if not self.adopted:
            if old is not None:
                await asyncio.to_thread(old.close)
            self.warm.start(files)
        while not self.warm.ready.is_set():  # the zygote imports torch: seconds, without blocking the worker
            await asyncio.sleep(0.05)
        if self.warm.error is not None:
            with _HELD_LOCK:
                if HELD.get(self.assignment) is self.warm:
                    del HELD[self.assignment]
            raise self.warm.error

    async def teardown(self, worker) -> None:
        """Park the grader for ``keep_warm`` seconds, or close it now (0)."""
        warm = getattr(self, "warm", None)
        if warm is None or warm.error is not None:
            return
        if self.keep_warm > 0:
            with _HELD_LOCK:
                if HELD.get(self.assignment) is warm:
                    warm.park(self.keep_warm)
                    return
        with _HELD_LOCK:
            if HELD.get(self.assignment) is warm:
                del HELD[self.assignment]
        await asyncio.to_thread(warm.close)  # closing the zygote takes a moment

    def describe(self) -> dict:
        grader = self.warm.grader
        return {"isolation": str(grader.isolation), "layers": grader.layers, "adopted": self.adopted}

    def grade(self, data: bytes) -> str:
        """Grade one submission's bytes from a private file; the sandboxes run ``nthreads`` at a time.

        Returns the result record as JSON text: one string for Dask to size and send, not a nest of dicts.
        """
        grader = self.warm.grader
        folder = Path(tempfile.mkdtemp(prefix="submission-", dir=self.warm.course))
        try:
            path = folder / f"{self.assignment}.ipynb"
            path.write_bytes(data)
            run = grader.run_sandbox(path)
            with _JUDGING:
                return json.dumps(grader.judge(run).to_dict())
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _grade_on_worker(plugin_name: str, digest: str, data: bytes) -> str:
    """The task: grade ``data`` with this worker's plugin, if it carries the batch's version of the files."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, GraderPlugin) or plugin.digest != digest:
        what = "no" if not isinstance(plugin, GraderPlugin) else "another version of the"
        raise SetupError(
            f"this Dask worker has {what} {plugin_name} plugin (replaced by another batch of this assignment?); "
            "rerun the batch"
        )
    return plugin.grade(data)


def _describe(plugin_name: str, dask_worker) -> dict:
    return dask_worker.plugins[plugin_name].describe()


def _security(args):
    """The TLS settings from ``--tls-*``, or None; checks that they fit the address."""
    given = {"--tls-ca-file": args.tls_ca_file, "--tls-cert": args.tls_cert, "--tls-key": args.tls_key}
    tls = args.scheduler.startswith("tls://")
    if not any(given.values()):
        if tls:
            raise SetupError(f"--scheduler {args.scheduler} is TLS: also give --tls-ca-file, --tls-cert and --tls-key")
        return None
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise SetupError(f"TLS needs --tls-ca-file, --tls-cert and --tls-key; {', '.join(missing)} missing")
    for name, value in given.items():
        if not value.is_file():
            raise SetupError(f"{name} {value}: no such file")
    if not tls and not args.scheduler.startswith("local:"):
        raise SetupError(f"--scheduler {args.scheduler} is plain TCP but TLS certificates were given: {TLS_FIX}")
    from distributed.security import Security

    ca, cert, key = (str(v) for v in given.values())
    return Security(
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,  # used only by a local:N cluster, which this process starts
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


def _local_workers(address: str) -> int:
    count = address.removeprefix("local:")
    if not count.isdigit() or int(count) < 1:
        raise SetupError(f"--scheduler {address}: local:N needs a number of workers N >= 1, for example local:2")
    return int(count)


def _probe(address: str, timeout: float) -> None:
    """Fail fast where nothing listens (Dask itself would retry until its timeout, then say only that)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls"):
        raise SetupError(f"--scheduler {address}: give tcp://HOST:PORT, tls://HOST:PORT or local:N")
    try:
        host, port = parse_host_port(location)
    except ValueError:
        raise SetupError(
            f"--scheduler {address}: no port; the scheduler's default is 8786 ({scheme}://HOST:8786)"
        ) from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        why = "nothing listens there" if isinstance(err, ConnectionRefusedError) else err.strerror or str(err)
        raise SetupError(
            f"cannot reach the Dask scheduler at {address}: {why}; start it there (`dask scheduler`, README: "
            "Scale-out), check the host and port, or grade on this machine with --scheduler local:N"
        ) from None


class DaskGrader:
    """The batch's grader on a Dask cluster: same interface as the local Autograder (a context manager)."""

    def __init__(self, args):
        course_dir, source, grader_path = assignment_paths(args.assignment, args.course_dir)
        self.assignment = Assignment(args.assignment, course_dir, source, grader_path)  # probes: the workers'
        self.source_nb = read_notebook(source)
        self.source_roles = source_roles(self.source_nb)
        self.address, self.cluster, self.client = args.scheduler, None, None
        timeout = args.scheduler_timeout
        files = course_files(course_dir, args.assignment)
        plugin = GraderPlugin(args.assignment, files, args.isolation, getattr(args, "keep_warm", 0))
        self.plugin_name, self.digest = plugin.name, plugin.digest
        security = _security(args)  # usage errors first, before any cluster is started or reached
        try:
            from distributed import Client

            if self.address.startswith("local:"):
                self._start_local(_local_workers(self.address), security)
            else:
                _probe(self.address, timeout)
                try:
                    self.client = Client(self.address, security=security, timeout=timeout, set_as_default=False)
                except (OSError, asyncio.TimeoutError) as err:  # timeouts and closed handshakes alike
                    raise SetupError(
                        f"cannot connect to the Dask scheduler at {self.address} ({err}); if it uses TLS, "
                        f"{TLS_FIX}; if it is slow to answer, raise --scheduler-timeout"
                    ) from None
            try:
                self.client.wait_for_workers(1, timeout=timeout)
            except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11 on
                raise SetupError(
                    f"the Dask scheduler at {self.address} has no workers; start some with "
                    f"`dask worker {self.address} --nthreads 1` (README: Scale-out)"
                ) from None
            self.client.register_plugin(plugin, name=self.plugin_name)  # each worker: adopt, or build and self-check
            described = self.client.run(_describe, self.plugin_name)
        except BaseException:
            self.close()
            raise
        self.isolation, self.layers = _combine(described)
        warm = sum(d["adopted"] for d in described.values())
        print(
            f"Dask cluster {self.address}: {len(described)} workers, {self._threads()} threads; "
            f"{warm} kept this assignment's grader warm from an earlier batch",
            file=sys.stderr,
        )

    def _start_local(self, workers: int, security) -> None:
        from distributed import Client, LocalCluster

        protocol = "tls://" if security else "tcp://"
        self.cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            protocol=protocol,
            security=security,
        )
        self.client = Client(self.cluster, security=security, set_as_default=False)
        self.address = self.cluster.scheduler_address

    @cached_property
    def _judge(self):
        """A judge in this process, only for records of submissions no worker grades (refused, crashed)."""
        from autograder.judge import Judge

        return Judge(load_assignment(self.assignment.name, self.assignment.course_dir), self.isolation)

    def judge_error(self, path: str, error: str) -> SubmissionResult:
        return self._judge.judge_error(path, error)

    def _threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def grade_many(self, paths: Iterable[str | Path]) -> Iterator[SubmissionResult]:
        """Grade ``paths`` on the cluster; yields results as they finish.

        At most one task per worker thread is in flight (re-counted every few seconds, as workers come
        and go), so no worker queues a submission it is not grading and a death implicates only those
        it was grading; the next one is handed over before the last result is yielded. ``paths`` is
        read lazily, one path per free thread: the batch marks a submission in flight when it is taken.
        """
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        waiting = iter(paths)
        in_flight: dict = {}
        done = as_completed(loop=self.client.loop)
        threads, counted = self._threads(), time.monotonic()

        def hand_over() -> None:
            nonlocal threads, counted
            if time.monotonic() - counted > 2:
                threads, counted = self._threads(), time.monotonic()
            while len(in_flight) < threads:
                path = next(waiting, None)
                if path is None:
                    return
                path = str(path)
                data = Path(path).read_bytes()
                future = self.client.submit(_grade_on_worker, self.plugin_name, self.digest, data, pure=False)
                in_flight[future] = path
                done.add(future)

        try:
            hand_over()
            for future in done:
                path = in_flight.pop(future)
                hand_over()
                try:
                    result = SubmissionResult.from_dict(json.loads(future.result()))
                except KilledWorker as err:
                    tries, last = err.allowed_failures + 1, getattr(err.last_worker, "address", err.last_worker)
                    result = self.judge_error(path, KILLED.format(times=_times(tries)))
                    result.notes.append(
                        f"the Dask workers grading this submission died {_times(tries)}, the last one {last} "
                        f"(the scheduler's allowed-failures is {err.allowed_failures}); "
                        "read the workers' logs, then delete this record (reports/<assignment>/records/<student>.json) "
                        "and rerun the batch to grade it again"
                    )
                    print(f"a submission killed its Dask worker {_times(tries)}; it was given zero", file=sys.stderr)
                except (SetupError, CancelledError, asyncio.CancelledError) as err:
                    raise SetupError(
                        f"grading on the Dask cluster at {self.address} stopped: {err or type(err).__name__}; "
                        "rerun the batch (it grades only what is not recorded yet)"
                    ) from err
                except Exception as err:  # a bug of ours must cost one submission, not the batch
                    result = self.judge_error(path, f"internal autograder error: {type(err).__name__}: {err}")
                result.path = path
                yield result
        finally:
            if in_flight:
                self.client.cancel(list(in_flight))

    def close(self) -> None:
        """Take the plugin (hidden graders, zygotes) off the cluster, then disconnect."""
        if self.client is not None:
            try:
                if self.client.status == "running":
                    self.client.unregister_worker_plugin(self.plugin_name)
            except Exception:  # the batch's outcome is saved already; a later batch replaces the plugin
                pass
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            # The workers' processes are gone; stop multiprocessing's resource tracker too, so that nothing
            # this command started is still running when it returns (it would exit on its own a moment later).
            with contextlib.suppress(Exception):
                resource_tracker._resource_tracker._stop()

    def __enter__(self) -> DaskGrader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _combine(described: dict[str, dict]) -> tuple[str, list[str]]:
    """One isolation level and layer list for the report; where workers differ, each is named."""
    levels = sorted({d["isolation"] for d in described.values()})
    layer_sets = {tuple(d["layers"]) for d in described.values()}
    if len(layer_sets) == 1:
        return levels[0], list(layer_sets.pop())
    layers = [f"{worker}: {line}" for worker, d in sorted(described.items()) for line in d["layers"]]
    return " / ".join(levels), layers
