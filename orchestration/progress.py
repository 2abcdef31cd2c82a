"""What ``kson run`` shows while it runs: each stage as it starts and ends, files done of total
during ingest, models done of total during dbt. Bars (rich) on a terminal, plain timestamped
lines otherwise (the nightly log), e.g. ``2026-11-26 14:02:03 dbt build + tests: 12 of 58
models``.

A thread reads the run's events from the Dagster instance while the run executes: step starts
and ends, and the log lines "file i of n" of the ingest assets and "model i of n" of the dbt
step (``counter``; ingest/ knows nothing of Dagster; dbt's materializations reach the instance
only when dbt has exited, so the dbt step logs its count as dbt's results stream in)."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from dagster import DagsterInstance, EventLogEntry

POLL_SECONDS = 0.5
COUNT_EVERY_SECONDS = 1.0  # a count line (or a file log line) at most this often, and the last
_COUNTED = re.compile(r"\b(file|model) (\d+) of (\d+)$")


def stage_of(step_key: str) -> str:
    """The stage of a step, as the run summary times them."""
    if step_key.startswith("ingest_"):
        return "ingest"
    if "_gx_" in step_key:
        return "expectations"
    if step_key.endswith("_freshness"):
        return "freshness"
    if step_key.startswith("kson_dbt_models"):
        return "dbt build + tests"
    if "published_marts" in step_key:
        return "publish"
    if "board_report" in step_key:
        return "report"
    return step_key


def shown_stage(step_key: str) -> str:
    """The stage of a step as the progress shows it: ingest per family."""
    stage = stage_of(step_key)
    return f"ingest {step_key.removeprefix('ingest_')}" if stage == "ingest" else stage


def counter(
    log: Callable[[str], None], unit: str, every: float = COUNT_EVERY_SECONDS
) -> Callable[[int, int], None]:
    """A callback that logs "<unit> i of n" (``file``: ``ingest.landing.load_family``'s files
    read; ``model``: the dbt step's models and seeds built) for the first and the last, and at
    most every ``every`` seconds between."""
    last = -every

    def counted(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done in (1, total) or now - last >= every:
            last = now
            log(f"{unit} {done} of {total}")

    return counted


class Display(Protocol):
    def started(self, stage: str, at: float) -> None: ...
    def counted(self, stage: str, done: int, total: int, unit: str, at: float) -> None: ...
    def ended(self, stage: str, outcome: str, seconds: float, at: float) -> None: ...
    def close(self) -> None: ...


class Lines:
    """Plain timestamped lines (local time), count lines at most every second per stage."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last_count: dict[str, float] = {}

    def _line(self, at: float, text: str) -> None:
        print(
            f"{datetime.fromtimestamp(at):%Y-%m-%d %H:%M:%S} {text}", file=self.stream, flush=True
        )

    def started(self, stage: str, at: float) -> None:
        self._line(at, f"{stage}: started")

    def counted(self, stage: str, done: int, total: int, unit: str, at: float) -> None:
        if done == total or at - self.last_count.get(stage, -COUNT_EVERY_SECONDS) >= (
            COUNT_EVERY_SECONDS
        ):
            self.last_count[stage] = at
            self._line(at, f"{stage}: {done} of {total} {unit}")

    def ended(self, stage: str, outcome: str, seconds: float, at: float) -> None:
        self._line(at, f"{stage}: {outcome} ({seconds:.1f} s)")

    def close(self) -> None:
        pass


class Bars:
    """A rich progress bar per stage, on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(finished_text="·"),
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]:<6}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            redirect_stdout=False,  # kson run sends stdout to the run's log meanwhile
        )
        self.tasks: dict[str, int] = {}
        self.progress.start()

    def started(self, stage: str, at: float) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=None, unit="")

    def counted(self, stage: str, done: int, total: int, unit: str, at: float) -> None:
        self.progress.update(self.tasks[stage], completed=done, total=total, unit=unit)

    def ended(self, stage: str, outcome: str, seconds: float, at: float) -> None:
        task = self.tasks[stage]
        total = self.progress.tasks[task].total or 1
        completed = total if outcome == "done" else self.progress.tasks[task].completed
        self.progress.update(
            task, description=f"{stage}: {outcome}", total=total, completed=completed
        )
        self.progress.stop_task(task)

    def close(self) -> None:
        self.progress.stop()


@dataclass
class _Stage:
    steps: set[str]  # planned
    running: dict[str, float] = field(default_factory=dict)  # step -> when it started
    ended: set[str] = field(default_factory=set)
    seconds: float = 0.0  # of its steps, as the summary counts them
    failed: bool = False

    @property
    def started(self) -> bool:
        return bool(self.running or self.ended)


class RunWatcher:
    """Feeds a display from the events of one run, read from the instance."""

    def __init__(self, instance: DagsterInstance, run_id: str, display: Display) -> None:
        self.instance, self.run_id, self.display = instance, run_id, display
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.execution_plan_snapshot_id is not None
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        self.stages: dict[str, _Stage] = {}
        for step in plan.step_keys_to_execute:
            self.stages.setdefault(shown_stage(step), _Stage(set())).steps.add(step)
        self.cursor: str | None = None

    def poll(self) -> None:
        """Show what happened since the last poll."""
        while True:
            connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
            for record in connection.records:
                self.show(record.event_log_entry)
            self.cursor = connection.cursor
            if not connection.has_more:
                return

    def show(self, entry: EventLogEntry) -> None:
        from dagster import DagsterEventType

        event, step = entry.dagster_event, entry.step_key
        stage = shown_stage(step) if step else None
        if event is None:
            if stage in self.stages and (counted := _COUNTED.search(entry.user_message)):
                unit, done, total = counted[1], int(counted[2]), int(counted[3])
                self.display.counted(stage, done, total, f"{unit}s", entry.timestamp)
            return
        kind = event.event_type
        if stage not in self.stages:
            return
        elif kind == DagsterEventType.STEP_START:
            if not self.stages[stage].started:
                self.display.started(stage, entry.timestamp)
            self.stages[stage].running[step] = entry.timestamp
        elif kind in (
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.STEP_SKIPPED,
        ):
            this = self.stages[stage]
            this.seconds += entry.timestamp - this.running.pop(step, entry.timestamp)
            this.ended.add(step)
            this.failed |= kind == DagsterEventType.STEP_FAILURE
            if this.ended == this.steps:
                outcome = "failed" if this.failed else "done"
                self.display.ended(stage, outcome, this.seconds, entry.timestamp)

    def finish(self) -> None:
        """After the run: what it did last; stages started and never ended (a step before
        them failed) say so."""
        self.poll()
        now = time.time()
        for name, stage in self.stages.items():
            if stage.started and stage.ended != stage.steps:
                seconds = stage.seconds + sum(now - since for since in stage.running.values())
                self.display.ended(name, "not finished", seconds, now)


def display_for(stream: TextIO) -> Display:
    """Bars on a terminal, lines otherwise."""
    return Bars(stream) if stream.isatty() else Lines(stream)


@contextmanager
def watching(instance: DagsterInstance, run_id: str, stream: TextIO) -> Iterator[None]:
    """Show the progress of run ``run_id`` on ``stream`` while the body executes it."""
    display = display_for(stream)
    watcher = RunWatcher(instance, run_id, display)
    stop = threading.Event()
    failed: list[Exception] = []

    def follow() -> None:
        while not stop.wait(POLL_SECONDS):
            try:
                watcher.poll()
            except Exception as error:  # noqa: BLE001 - the run goes on without its progress
                failed.append(error)
                print(f"kson run: progress not shown from here on: {error}", file=sys.stderr)
                return

    thread = threading.Thread(target=follow, name="kson-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if not failed:
            watcher.finish()
        display.close()
