"""One writer of the build database at a time, and the runs that died while writing it.

Every run that writes the build database holds ``<build db>.lock``: a POSIX record lock
(``fcntl.lockf``) on a small file that also says who holds it (run id, since when). The kernel
releases the lock when the holding process dies, even by SIGKILL; processes it forks do not
inherit it. A second holder gets ``RunInProgress``: "a run is in progress (run <id>, since
<time>)". Within one process the lock is reentrant for the same holder (``kson run`` holds it
around the Dagster run, whose warehouse resource takes it again).

A Dagster run that still says STARTED or STARTING for a build database whose lock is free has
died (SIGKILL, out of memory, power cut): ``close_dead_runs`` reports it failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

BUILD_DB_TAG = "kson/build_db"  # on every run that holds the lock: which build database


@dataclass(frozen=True)
class Holder:
    run_id: str
    since: str  # ISO 8601, local time with its offset


class RunInProgress(RuntimeError):
    def __init__(self, holder: Holder | None) -> None:
        run, since = (holder.run_id, holder.since) if holder else ("unknown", "unknown")
        super().__init__(f"a run is in progress (run {run}, since {since})")
        self.holder = holder


def lock_path(build_db: Path | str) -> Path:
    path = Path(build_db)
    return path.with_name(path.name + ".lock")


@dataclass
class _Held:
    holder: Holder
    fd: int
    depth: int = 1


_held: dict[Path, _Held] = {}  # lock file -> what this process holds
_guard = threading.Lock()


@contextmanager
def build_db_lock(build_db: Path | str, run_id: str) -> Iterator[Holder]:
    """Hold the build database's lock for ``run_id``; raise ``RunInProgress`` when another
    run (in this process or another) holds it."""
    path = lock_path(build_db).resolve()
    with _guard:
        held = _held.get(path)
        if held is None:
            held = _held[path] = _acquire(path, run_id)
        elif held.holder.run_id != run_id:
            raise RunInProgress(held.holder)
        else:
            held.depth += 1
    try:
        yield held.holder
    finally:
        with _guard:
            held.depth -= 1
            if held.depth == 0:
                del _held[path]
                os.ftruncate(held.fd, 0)
                os.close(held.fd)  # closing it releases the lock


def _acquire(path: Path, run_id: str) -> _Held:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunInProgress(_read_holder(path)) from None
    holder = Holder(run_id, datetime.now().astimezone().isoformat(timespec="seconds"))
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"run_id": holder.run_id, "since": holder.since}).encode(), 0)
    os.fsync(fd)
    return _Held(holder, fd)


def _read_holder(path: Path, attempts: int = 20) -> Holder | None:
    """Who the lock file says holds it. The holder writes its name right after taking the
    lock, so an empty file is read again a few times (50 ms apart). Never called for a lock
    this process holds: closing any descriptor of the file would release a POSIX lock of this
    process."""
    for attempt in range(attempts):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            return Holder(str(content["run_id"]), str(content["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            if attempt < attempts - 1:
                time.sleep(0.05)
    return None


def is_held(build_db: Path | str) -> bool:
    """Whether any process holds the build database's lock (without taking it)."""
    path = lock_path(build_db).resolve()
    if path in _held:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        # F_GETLK through lockf is not exposed; a shared test lock on a read-only descriptor
        # conflicts only with the holder's exclusive lock.
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the test lock
    return False


def close_dead_runs(
    instance: DagsterInstance, build_db: Path | str, current_run_id: str
) -> list[DagsterRun]:
    """Report failed every other run of this build database still STARTING or STARTED.

    Call it holding the lock: no other process is running any of them, so they died. A run is
    of this build database when tagged with it: ``kson run`` tags its run when it creates it,
    any other run is tagged when it takes the lock. Runs of ``kson run`` have no daemon
    watching them; for runs the daemon launched, Dagster notices a dead run worker itself, and
    run monitoring (``.dagster/dagster.yaml``) fails runs that never start.
    """
    from dagster import DagsterRunStatus, RunsFilter

    path = lock_path(build_db).resolve()
    assert path in _held, "close_dead_runs needs the build database's lock"
    runs = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED],
            tags={BUILD_DB_TAG: build_db_tag(build_db)},
        )
    )
    dead = [run for run in runs if run.run_id != current_run_id]
    for run in dead:
        instance.report_run_failed(
            run,
            f"The process running this run died (killed, or out of memory) before it "
            f"finished. Recorded as failed by run {current_run_id}, which holds the build "
            f"database since {_held[path].holder.since}.",
        )
    return dead


def build_db_tag(build_db: Path | str) -> str:
    """The value of ``BUILD_DB_TAG`` for a build database: its resolved path."""
    return str(Path(build_db).resolve())
