"""Atomic file writes, and reads of untrusted files that never follow a link or block on a pipe.

A reader of :func:`atomic_write`'s output sees the old file or the new one, never half of it.
:func:`open_folder` and :func:`read_regular_file` open one name inside an already opened folder
(``dir_fd``) with ``O_NOFOLLOW``: a symbolic link, a pipe, a socket or a device is refused by kind,
before and after opening (``lstat``, then ``fstat`` on what was opened), and a read stops at a cap.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
    stat.S_IFREG: "a regular file",
}


class NotPlainFile(OSError):
    """The name is not what was asked for (a link, pipe, device, ...): ``kind`` says what it is."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more than the cap allows (``size``: what was seen, at least cap + 1; ``st``: its fstat)."""

    def __init__(self, size: int, st: os.stat_result):
        super().__init__(f"{size} bytes")
        self.size = size
        self.st = st


def file_kind(mode: int) -> str:
    """'a symbolic link', 'a named pipe (FIFO)', ... for an ``st_mode``."""
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def owned_name(what: str = "") -> str:
    """``autograder-<pid>-<what>``: the name of a folder or cgroup this process owns until it ends.

    A judge killed before it could clean up leaves them behind; :func:`owner_is_gone` reads the pid
    back, so the next judge removes them.

    >>> owner_is_gone(owned_name("batch-")), owned_name("x") == f"autograder-{os.getpid()}-x"
    (False, True)
    """
    return f"autograder-{os.getpid()}-{what}"


def owner_is_gone(name: str, prefix: str = "autograder-") -> bool:
    """Whether a folder named ``<prefix><pid>-...`` was left by a process that no longer exists.

    Judges name their working folders and cgroups so: one killed before it could clean up (SIGKILL,
    the OOM killer, a Dask worker's SIGTERM) leaves them behind, and the next judge removes them.

    >>> owner_is_gone(f"autograder-{os.getpid()}-1"), owner_is_gone("autograder-x")
    (False, False)
    """
    pid = name.removeprefix(prefix).partition("-")[0] if name.startswith(prefix) else ""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open(name: str, dir_fd: int, flags: int) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:  # O_NOFOLLOW met a link (swapped in after the lstat)
            raise NotPlainFile(_KINDS[stat.S_IFLNK]) from None
        if err.errno == errno.ENXIO:  # open(2) on a socket
            raise NotPlainFile(_KINDS[stat.S_IFSOCK]) from None
        raise


def open_folder(name: str, dir_fd: int) -> int:
    """A file descriptor of the folder ``name`` in ``dir_fd``; NotPlainFile if it is anything else.

    FileNotFoundError when there is nothing by that name. The caller closes the descriptor.
    """
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    if not stat.S_ISDIR(mode):
        raise NotPlainFile(file_kind(mode))
    try:
        return _open(name, dir_fd, os.O_RDONLY | os.O_DIRECTORY)
    except NotADirectoryError:  # swapped for something else after the lstat
        raise NotPlainFile("not a folder") from None


def read_regular_file(name: str, dir_fd: int, cap: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``name`` in ``dir_fd``, read once, and its ``fstat``.

    Never follows a link, never blocks on a pipe: NotPlainFile names what it is instead;
    FileTooLarge if it holds more than ``cap`` bytes (checked before and while reading);
    FileNotFoundError if there is nothing by that name.
    """
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    if not stat.S_ISREG(mode):
        raise NotPlainFile(file_kind(mode))
    fd = _open(name, dir_fd, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotPlainFile(file_kind(st.st_mode))
        if st.st_size > cap:
            raise FileTooLarge(st.st_size, st)
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(cap + 1 - size, 2**20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:  # it grew after the fstat
            raise FileTooLarge(size, st)
        return b"".join(chunks), st
    finally:
        os.close(fd)
