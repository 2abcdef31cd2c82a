"""Untrusted files are read in worker processes: whatever a read does — raise, recurse, abort,
exhaust its memory, hang — only that file fails, with what failed and never its content."""

import dataclasses
import os
import threading
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLE_DIR
from hostile import (
    SECRET,
    deeply_nested_json,
    read_marked,
    read_unpicklable,
    stray_cell_xlsx,
)
from ingest import isolation
from ingest.isolation import UNREADABLE, ReaderPool, ReadFailed
from ingest.landing import FileStore, load_family
from ingest.registry import FAMILIES

KOLADA = FAMILIES["kolada"]
GOOD = sorted((SAMPLE_DIR / "kolada").glob("*.json"))


@pytest.fixture(scope="module")
def pool():
    readers = ReaderPool(memory_mb=1024, timeout=6)  # room for a busy machine
    yield readers
    readers.close()


@pytest.fixture
def shared(pool, monkeypatch):
    """The landing's reads go to the module's pool (a short time limit)."""
    monkeypatch.setattr(isolation, "_shared", pool)
    return pool


def marked(tmp_path: Path, marker: str) -> Path:
    path = tmp_path / f"{marker.lower()}.json"
    path.write_text(marker, "utf-8")
    return path


@pytest.mark.parametrize(
    ("marker", "failure"),
    [
        ("RAISE", "ValueError was raised in tests/hostile/__init__.py, line "),
        ("RECURSE", "RecursionError was raised in tests/hostile/__init__.py, line "),
        ("EAT", "MemoryError was raised in tests/hostile/__init__.py, line "),
        ("ABORT", "the reader process ended with signal SIGABRT (a native library aborted"),
        ("HANG", "the read did not finish within 6 s (time limit)"),
    ],
)
def test_every_failure_of_a_read_says_what_failed_and_the_pool_goes_on(
    pool, tmp_path, marker, failure
):
    with pytest.raises(ReadFailed) as caught:
        pool.run(read_marked, marked(tmp_path, marker))
    assert str(caught.value).startswith(failure) and SECRET not in str(caught.value)
    assert pool.run(read_marked, GOOD[0]).row_count > 0  # a worker is there for the next file


def test_a_result_that_cannot_be_passed_back_is_the_codes_fault_not_the_files(pool):
    with pytest.raises(RuntimeError, match=r"^read_unpicklable: .*Error was raised"):
        pool.run(read_unpicklable, GOOD[0])


def test_a_crash_does_not_fail_the_read_beside_it(pool, tmp_path):
    answers = {}

    def read(path):
        try:
            answers[path.name] = pool.run(read_marked, path).row_count
        except ReadFailed as failure:
            answers[path.name] = str(failure)

    threads = [
        threading.Thread(target=read, args=(path,)) for path in (marked(tmp_path, "ABORT"), *GOOD)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.pop("abort.json").startswith("the reader process ended with signal SIGABRT")
    assert all(isinstance(rows, int) and rows > 0 for rows in answers.values()), answers


def test_hostile_files_are_quarantined_and_the_others_load_in_order(shared, tmp_path):
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    folder = store.landing_dir / "kolada"
    folder.mkdir(parents=True)
    for path in GOOD:
        (folder / path.name).write_bytes(path.read_bytes())
    for marker in ("ABORT", "EAT", "HANG", "RECURSE"):
        (folder / f"data_{marker.lower()}.json").write_text(marker, "utf-8")
    deeply_nested_json(folder / "data_nested.json")
    family = dataclasses.replace(KOLADA, read=read_marked)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        outcome = load_family(con, family, store)
        logged = [
            name
            for (name,) in con.execute(
                "SELECT file_name FROM raw.load_log ORDER BY file_id"
            ).fetchall()
        ]
        events = con.execute(
            "SELECT file_name, first_error FROM raw.quarantine_log ORDER BY 1"
        ).fetchall()
    assert logged == [path.name for path in GOOD]  # landing-path order, none lost
    assert [path for path, _ in outcome.accepted] == [f"kolada/{p.name}" for p in GOOD]
    rules = {name: error.split(": ", 2)[2] for name, error in events}
    assert rules.pop("data_abort.json").startswith(
        f"{UNREADABLE}: the reader process ended with signal SIGABRT"
    )
    assert rules.pop("data_eat.json").startswith(f"{UNREADABLE}: MemoryError was raised")
    assert (
        rules.pop("data_hang.json")
        == f"{UNREADABLE}: the read did not finish within 6 s (time limit)"
    )
    assert rules.pop("data_recurse.json").startswith(f"{UNREADABLE}: RecursionError was raised")
    assert set(rules) == {"data_nested.json"}  # the Kolada reader rejects it itself
    report = (store.quarantine_dir / "kolada").glob("*_data_abort.json.errors.txt")
    assert f"- file: {UNREADABLE}: the reader process ended with signal SIGABRT" in next(
        report
    ).read_text("utf-8")
    assert list((store.archive_dir / ".incoming").iterdir()) == []


def test_a_workbook_that_aborts_calamine_is_quarantined(tmp_path):
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    stray_cell_xlsx(store.landing_dir / "provider_reports" / "5567289045_HTJ_2023-01.xlsx")
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        outcome = load_family(con, FAMILIES["provider_reports"], store)
    [(path, report)] = outcome.quarantined
    assert path == "provider_reports/5567289045_HTJ_2023-01.xlsx"
    assert f"- file: {UNREADABLE}: the reader process ended with signal SIGABRT" in report
    assert list((store.archive_dir / ".incoming").iterdir()) == []


def test_a_worker_ends_when_its_parent_has_died(tmp_path):
    """A run killed mid-read leaves no reader behind (the worker watches its parent)."""
    import subprocess
    import sys
    import time

    hang = marked(tmp_path, "HANG")
    script = (
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "from pathlib import Path\n"
        "from hostile import read_marked\n"
        "from ingest.isolation import ReaderPool\n"
        "pool = ReaderPool(timeout=600)\n"
        "worker = pool._take()\n"
        "print(worker.process.pid, flush=True)\n"
        "worker.call(read_marked, (Path(sys.argv[3]),), 600)\n"
    )
    tests = str(Path(__file__).parent)
    parent = subprocess.Popen(
        [sys.executable, "-c", script, tests, str(Path(tests).parent), str(hang)],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(parent.stdout.readline())
    time.sleep(1)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = (
        Path(f"/proc/{pid}/stat").read_text().split()[2]
        if Path(f"/proc/{pid}/stat").exists()
        else "X"
    )
    return status not in ("Z", "X")


def test_a_worker_left_holding_much_memory_is_replaced_not_kept(tmp_path):
    """After a big read (a visit log, a ledger) its worker's memory goes back at once."""
    pool = ReaderPool(memory_mb=1024, timeout=10)
    try:
        pool.run(read_marked, GOOD[0])
        [small] = pool._idle
        pool.run(read_marked, GOOD[0])
        assert pool._idle == [small]  # a small read keeps its worker
        pool.run(read_marked, marked(tmp_path, "KEEP"))
        assert pool._idle == [] and not small.alive()
    finally:
        pool.close()


def _polars_memory_after_free(mb: int) -> tuple[int, int]:
    """In a worker: its resident MB holding a polars column of ``mb`` MB, and once dropped."""
    import polars as pl

    def resident() -> int:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") >> 20

    column = pl.int_range(0, mb << 17, dtype=pl.Int64, eager=True)
    held = resident()
    del column
    return held, resident()


def test_a_worker_gives_freed_memory_back_at_once(pool):
    """polars' allocator would keep it for a second or more: a ledger's read held most of the
    columns it made on the way (isolation.ALLOCATOR)."""
    held, after = pool.run(_polars_memory_after_free, 200)
    assert held - after > 180
