"""Reading untrusted files in worker processes, so that no file can take the run down.

A reader can fail in ways Python cannot catch: calamine asks for a dense range of 549 GB for
one stray cell at ``XFD1048576`` of an ``.xlsx`` and the process aborts (SIGABRT); a reader may
also recurse too deep, loop, or allocate without end. So every landing file (and the file
``kson validate`` checks) is read by a small pool of worker processes, each with a memory limit
and a time limit per file. Whatever goes wrong in a read — an exception, a signal, the memory or
the time limit — fails that one read with :class:`ReadFailed`, which says what failed (the
exception's type and the line of our code that raised it, the signal, the limit) and never an
exception's message, which may quote the file. A worker that died or overran its time is
replaced; each worker reads one file at a time, so the files other workers read go on.

A worker is a fresh interpreter (``python -c``, with the parent's ``sys.path``), not a fork:
the parent runs DuckDB's and Dagster's threads, whose locks a fork could copy held (and
multiprocessing's ``spawn`` would run the parent's main script again). What a worker prints (a
Rust backtrace, a message quoting the file) goes nowhere. The pool is shared by every read of a
process; workers start on first use (~0.5 s, their imports included) and end with it, or on
their own when the parent has died.

Settings: ``KSON_READ_MEMORY_MB`` (default 4096, per worker) and ``KSON_READ_TIMEOUT_SECONDS``
(default 300, per file; reading a year of 1 M visits takes ~3 s, the 2024 sample ledger ~5 s).

The memory limit is ``RLIMIT_DATA`` (writable memory: heap, anonymous maps, thread stacks), not
``RLIMIT_AS``: polars, DuckDB and glibc reserve address space they never use, more with every
thread (measured on 2 cores: the imports alone reserve 1.35 GB of address space; reading the
sample ledger of 2024, 518,000 voucher rows, needs 3 GB of address space, 1.5 GB of data).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ingest.validation import ReadResult, ValidationError


def _setting(variable: str, default: int) -> int:
    value = os.environ.get(variable) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{variable}={value!r}: expected a whole number of at least 1")
    return int(value)


MEMORY_MB = _setting("KSON_READ_MEMORY_MB", 4096)  # per worker
TIMEOUT_SECONDS = _setting("KSON_READ_TIMEOUT_SECONDS", 300)  # per file
STARTUP_SECONDS = 120  # a worker's start, its imports included (~0.5 s)
# A worker that holds more than this after a read (a visit log, a ledger: DuckDB's and the
# allocator's caches) is replaced rather than kept idle, so its memory goes back at once.
RECYCLE_MB = 512
# polars' allocator (jemalloc) keeps freed pages for 0.5-1.5 s (polars/__init__.py), so a
# read of a few seconds holds most intermediate columns it made: a worker returns them at once
# (polars appends this to its own setting, which the parent's import put in os.environ).
ALLOCATOR = "dirty_decay_ms:0,muzzy_decay_ms:0"
UNREADABLE = "the file could not be read"
REPO_ROOT = Path(__file__).resolve().parents[1]

_SIGNALS = {
    signal.SIGABRT: "a native library aborted",
    signal.SIGSEGV: "a native library crashed",
    signal.SIGBUS: "a native library crashed",
    signal.SIGKILL: "killed from outside, e.g. by the kernel when memory ran out",
}


class ReadFailed(Exception):
    """A read that failed in its worker; the message says what failed, never the content."""


def unreadable(path: Path, failure: ReadFailed) -> ReadResult:
    """A rejection of the file at ``path``: it could not be read, and why."""
    return ReadResult(errors=[ValidationError(path.name, "file", f"{UNREADABLE}: {failure}")])


def read_isolated(read: Callable[[Path], ReadResult], path: Path) -> ReadResult:
    """``read(path)`` in a worker of the shared pool; any failure rejects the file."""
    try:
        return shared_pool().run(read, path)
    except ReadFailed as failure:
        return unreadable(path, failure)


class ReaderPool:
    """Worker processes that run functions on untrusted input, one call at a time each.

    :meth:`run` may be called from several threads at once: each call takes an idle worker
    (or starts one), so the pool grows to the number of calls in flight.
    """

    def __init__(self, memory_mb: int = MEMORY_MB, timeout: float = TIMEOUT_SECONDS) -> None:
        self.memory_mb = memory_mb
        self.timeout = timeout
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker: its value, or :class:`ReadFailed`. The function and
        its arguments and value must pickle (a module-level function, plain data)."""
        worker = self._take()
        try:
            value = worker.call(function, args, self.timeout)
        except BaseException:  # a failed read, or e.g. KeyboardInterrupt while waiting
            worker.kill()
            raise
        if worker.resident_mb() > RECYCLE_MB:
            worker.stop()
        else:
            with self._lock:
                self._idle.append(worker)
        return value

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop()
            return _Worker(self.memory_mb)


class _Worker:
    """One worker process and the socket it answers on (a fresh interpreter: ``python -c``)."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.ready = False
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(theirs.fileno()), str(memory_mb << 20)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            # What a library prints while it fails (a Rust backtrace, a message quoting the
            # file) is neither shown nor kept.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(sys.path),
                "_RJEM_MALLOC_CONF": ALLOCATOR,
            },
        )
        theirs.close()
        self.connection = Connection(ours.detach())

    def call(self, function: Callable[..., Any], args: tuple, timeout: float) -> Any:
        if not self.ready:
            self._wait_until_ready()
        try:
            self.connection.send_bytes(pickle.dumps((function, args)))
        except OSError:
            raise ReadFailed(self._death()) from None
        if not wait([self.connection], timeout):
            raise ReadFailed(f"the read did not finish within {timeout:g} s (time limit)")
        try:
            status, value = pickle.loads(self.connection.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError):
            raise ReadFailed(self._death()) from None
        if status == "failed":
            raise ReadFailed(value)
        if status == "unpicklable":
            raise RuntimeError(f"{getattr(function, '__qualname__', function)}: {value}")
        return value

    def _wait_until_ready(self) -> None:
        """A worker that cannot start is the platform's fault, not a file's: RuntimeError."""
        answer = None
        if wait([self.connection], STARTUP_SECONDS):
            with contextlib.suppress(EOFError, OSError):
                answer = pickle.loads(self.connection.recv_bytes())
        if answer != ("ready", None):
            detail = answer[1] if answer else self._death()
            raise RuntimeError(f"a reader process could not start: {detail}")
        self.ready = True

    def _death(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            return "the reader process stopped answering"
        if code < 0:
            number = signal.Signals(-code)
            cause = _SIGNALS.get(number)
            if number == signal.SIGABRT:
                cause = (
                    f"{cause}, e.g. on an allocation beyond the memory limit of {self.memory_mb} MB"
                )
            what = f"the reader process ended with signal {number.name}"
            return f"{what} ({cause})" if cause else what
        return f"the reader process exited with status {code}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def resident_mb(self) -> float:
        """The worker's resident memory (Linux ``/proc``; 0 where it cannot be read)."""
        try:
            resident = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0.0
        return resident * os.sysconf("SC_PAGE_SIZE") / 2**20

    def stop(self) -> None:
        self.connection.close()  # an idle worker exits at the end of its input
        try:
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.connection.close()
        self.process.kill()
        self.process.wait()


# The worker's start: its socket's descriptor and its memory limit in bytes are arguments.
_BOOT = (
    "import sys; from ingest.isolation import _serve; _serve(int(sys.argv[1]), int(sys.argv[2]))"
)


def _serve(descriptor: int, memory_bytes: int) -> None:
    """A worker: under its memory limit, run each call received and send back its outcome."""
    connection = Connection(descriptor)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when work stops
        threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    except BaseException as error:  # noqa: BLE001 - told to the parent, which raises it
        message = traceback.format_exception_only(error)[-1].strip()
        connection.send_bytes(pickle.dumps(("failed", message)))
        return
    connection.send_bytes(pickle.dumps(("ready", None)))
    while True:
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            function, args = pickle.loads(message)
            value = function(*args)
        except BaseException as error:  # noqa: BLE001 - every failure of a read is an answer
            connection.send_bytes(pickle.dumps(("failed", _describe(error))))
            continue
        try:
            answer = pickle.dumps(("ok", value), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as error:  # the code's fault
            answer = pickle.dumps(("unpicklable", _describe(error)))
        except BaseException as error:  # noqa: BLE001 - e.g. out of memory
            answer = pickle.dumps(("failed", _describe(error)))
        connection.send_bytes(answer)


def _describe(error: BaseException) -> str:
    """The exception's type and the innermost line of our code it passed, without its
    message (which may quote the file)."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    where = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).is_relative_to(REPO_ROOT)
        and not Path(frame.filename).is_relative_to(sys.prefix)
        and frame.filename != __file__
    ]
    if not where:
        return f"{name} was raised"
    frame = where[-1]
    return (
        f"{name} was raised in {Path(frame.filename).relative_to(REPO_ROOT)}, line {frame.lineno}"
    )


def _exit_when_orphaned(parent: int) -> None:
    """End the worker when the process that started it has died (e.g. killed mid-read)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


_shared: ReaderPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ReaderPool:
    """The process's pool, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ReaderPool()
            atexit.register(_shared.close)
        return _shared
