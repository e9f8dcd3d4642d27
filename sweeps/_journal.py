"""Journal files: repair a damaged log before anything is appended, and a lock across processes.

Optuna's journal is one JSON operation per line. A line torn by a full disk or a killed writer
(no newline at the end), a blank line or a line of garbage makes Optuna's reader raise on every
later read, so one bad byte would hide every sweep in the file. ``repair`` rewrites such a file
so that it holds only whole operations, keeps a copy of everything it cut next to the file, and
logs what it did, naming the file and the line. A torn line that a later write was glued onto is
split: the later, whole operation is kept.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import pathlib
import time
from typing import Any, Iterator

logger = logging.getLogger(__name__)

_OP_START = b'{"op_code"'


# a lock file cannot be created here: a read-only filesystem, a folder of another user
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def file_lock(path: pathlib.Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes (``flock``; the file is created if needed).

    Optuna's own journal lock is a separate file; this one guards what sweeps does in several
    steps (enqueue a grid, repair the file) against other participants doing the same. Where the
    lock file cannot be created (a read-only filesystem or folder) an existing one is locked
    read-only, and without one the block runs unlocked: nobody can write there to change the
    store under a reader, and a writer is refused before it writes (``Store.check``).
    """
    handle = _open_lock(path)
    if handle is None:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        # unlock before closing: a worker forked meanwhile holds a copy of this descriptor,
        # and closing ours alone would leave the lock held until that worker exits
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


def _open_lock(path: pathlib.Path) -> int | None:
    """A descriptor of the lock file, created if it can be; None where none exists or can be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as error:
        if error.errno not in _UNWRITABLE:
            raise
    try:
        return os.open(path, os.O_RDONLY)  # flock locks a read-only descriptor too
    except OSError as error:
        if error.errno not in _UNWRITABLE + (errno.ENOENT,):
            raise
        return None


def _whole(line: bytes) -> bytes | None:
    """The line if it is one JSON operation; else the last whole operation glued onto it."""
    for start in _starts(line):
        try:
            op = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(op, dict) and "op_code" in op:
            return line[start:]
    return None


def _starts(line: bytes) -> list[int]:
    starts, at = [], line.find(_OP_START)
    while at >= 0:
        starts.append(at)
        at = line.find(_OP_START, at + 1)
    return starts or [0]


def damage(path: pathlib.Path) -> bool:
    """Whether the journal file ends without a newline or holds a line that is not an operation.

    Reads the whole file; cheap next to Optuna's own replay of it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    if data and not data.endswith(b"\n"):
        return True
    for line in data.splitlines():
        stripped = line.strip()
        if not stripped or not stripped.startswith(_OP_START):
            return True
        try:
            json.loads(stripped)
        except ValueError:
            return True
    return False


def tail_damaged(path: pathlib.Path) -> bool:
    """Whether the journal's last line is torn, blank or not an operation: what Optuna's reader
    lets pass (nothing follows it) until the next append is glued onto it. Reads the last line
    only; damage further up makes Optuna's reader raise, and is repaired then."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        if handle.read(1) != b"\n":
            return True
        start, end = 0, size - 1
        while end > 0:  # back to the newline before the last line
            begin = max(0, end - 65536)
            handle.seek(begin)
            found = handle.read(end - begin).rfind(b"\n")
            if found >= 0:
                start = begin + found + 1
                break
            end = begin
        handle.seek(start)
        last = handle.read(size - start).strip()
    try:
        return not (isinstance(op := json.loads(last), dict) and "op_code" in op)
    except ValueError:
        return True


def repair(path: pathlib.Path) -> list[str]:
    """Make the journal at ``path`` whole again; return one message per line that was changed.

    Call it before anything is appended. The original file is kept as
    ``<file>.damaged-<time>`` when anything is cut. It holds the writers' lock from the read to
    the rename: a participant still appending to the file (another sweep in it) waits, instead
    of writing into the file being replaced, where its write would be lost.
    """
    with file_lock(pathlib.Path(append_lock_path(path))):
        if not damage(path):
            return []
        try:
            return _rewrite(path, path.read_bytes())
        except OSError as error:
            if error.errno not in _UNWRITABLE:
                raise
            # a store nobody can write: read as it is (Optuna's reader passes a torn last line)
            logger.warning("the journal %s is damaged and cannot be repaired here (%s); it is "
                           "read as it is", path, error.strerror)
            return []


def append_lock_path(path: Any) -> str:
    """The lock every writer of the journal at ``path`` holds while it appends."""
    return str(path) + ".flock"


def _rewrite(path: pathlib.Path, data: bytes) -> list[str]:
    kept, messages = [], []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if last and not line:
            continue  # the file ended with a newline
        if not line.strip():
            messages.append(f"line {number}: blank, dropped")
            continue
        whole = None if last else _whole(line.strip())
        if whole is None:
            what = "torn last line (no newline)" if last else "not a journal operation"
            messages.append(f"line {number}: {what}, cut: {line[:80]!r}")
        elif whole != line.strip():
            messages.append(f"line {number}: a torn write glued to a whole one; kept the whole one")
            kept.append(whole)
        else:
            kept.append(line.strip())
    copy = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    copy.write_bytes(data)
    temporary = path.with_name(f".{path.name}.repair-{os.getpid()}")
    temporary.write_bytes(b"".join(line + b"\n" for line in kept))
    os.replace(temporary, path)
    for message in messages:
        logger.warning("repaired the journal %s: %s (the original is kept in %s)", path, message,
                       copy)
    return messages


def journal_backend(path: pathlib.Path) -> Any:
    """Optuna's journal file backend, with writes that can be gathered and that can skip fsync.

    Writers hold a ``flock`` (released by the kernel when a writer dies: no stale lock files).
    Optuna syncs every appended operation to disk (one ``fsync`` each, about a millisecond).
    ``batched()`` gathers the operations of one step (a grid's trials, one task's result) into
    one append and one sync; ``relaxed()`` skips the sync for the queue's bookkeeping (claims
    and leases), which a crash of the machine can only make a task run again, never lose.
    """
    from optuna.storages.journal import JournalFileBackend
    from optuna.storages.journal._file import BaseJournalFileLock, get_lock_file

    class FlockLock(BaseJournalFileLock):
        """Optuna's lock, held with ``flock`` on a file beside the journal: the kernel releases
        it when its process dies, so a killed writer never leaves a stale lock (Optuna's own
        symlink lock then stalls every writer for its 30 s grace period)."""

        def __init__(self, lock_path: str) -> None:
            self.lock_path = lock_path
            self._handle: int | None = None

        def acquire(self) -> bool:
            handle = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._handle = handle
            return True

        def release(self) -> None:
            handle, self._handle = self._handle, None
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)  # a forked worker may hold a copy
                os.close(handle)

    class Backend(JournalFileBackend):
        def __init__(self, file_path: str) -> None:
            super().__init__(file_path, lock_obj=FlockLock(append_lock_path(file_path)))
            self._gathered: list | None = None
            self._durable = True

        def append_logs(self, logs: list) -> None:
            if self._gathered is not None:
                self._gathered.extend(logs)
                return
            self._append(logs, self._durable)

        def _append(self, logs: list, durable: bool) -> None:
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            with get_lock_file(self._lock):
                with open(self._file_path, "ab") as handle:
                    handle.write(text.encode("utf-8"))
                    handle.flush()
                    if durable:
                        os.fsync(handle.fileno())

        @contextlib.contextmanager
        def batched(self) -> Iterator[None]:
            if self._gathered is not None:  # nested: the outer block writes
                yield
                return
            self._gathered = []
            try:
                yield
                gathered = self._gathered
            finally:
                self._gathered = None
            if gathered:
                self._append(gathered, True)

        @contextlib.contextmanager
        def relaxed(self) -> Iterator[None]:
            before, self._durable = self._durable, False
            try:
                yield
            finally:
                self._durable = before

    return Backend(str(path))
