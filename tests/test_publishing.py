"""The serving file: atomic swap under concurrent readers, and readable by DuckDB 1.x."""

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from conftest import REPO_ROOT
from orchestration.publishing import publish_marts, published_tables

BI_CLIENT_VENV = REPO_ROOT / ".venv-duckdb1"
BI_CLIENT_LOCK = Path(__file__).parent / "bi_client" / "requirements.txt"


def make_build(path: Path, version: int) -> Path:
    """A build database whose mart has ``10 * version`` rows, each saying ``version``."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            f"CREATE TABLE marts.t AS SELECT {version} AS version, i "
            f"FROM range({10 * version}) r(i)"
        )
        con.execute("COMMENT ON TABLE marts.t IS 'a mart'")
        con.execute("COMMENT ON COLUMN marts.t.version IS 'which build'")
    return path


def test_readers_never_see_a_half_written_or_mixed_state(tmp_path):
    builds = [make_build(tmp_path / f"build{v}.duckdb", v) for v in (1, 2)]
    serving = tmp_path / "serving" / "kson.duckdb"
    publish_marts(builds[0], serving, ["t"], "v1.2.0")
    problems: list[str] = []
    reads = 0
    done = threading.Event()

    def read_in_a_loop() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                with duckdb.connect(str(serving), read_only=True) as con:
                    [(versions, rows)] = con.execute(
                        "SELECT list(DISTINCT version), count(*) FROM marts.t"
                    ).fetchall()
                if len(versions) != 1 or rows != 10 * versions[0]:
                    problems.append(f"mixed state: {versions}, {rows} rows")
                reads += 1
            except duckdb.Error as error:
                problems.append(str(error))

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    for i in range(30):
        publish_marts(builds[i % 2], serving, ["t"], "v1.2.0")
    done.set()
    reader.join()
    assert problems == []
    assert reads > 0
    assert sorted(p.name for p in serving.parent.iterdir()) == ["kson.duckdb"]
    assert published_tables(serving) == {"t": 20}


def test_publishing_needs_no_lock_on_the_serving_file(tmp_path):
    build = make_build(tmp_path / "build.duckdb", 1)
    serving = tmp_path / "kson.duckdb"
    publish_marts(build, serving, ["t"], "v1.2.0")
    with duckdb.connect(str(serving), read_only=True) as reader:  # a BI tool keeps it open
        publish_marts(make_build(tmp_path / "build2.duckdb", 2), serving, ["t"], "v1.2.0")
        assert reader.execute("SELECT count(*) FROM marts.t").fetchall() == [(10,)]
    assert published_tables(serving) == {"t": 20}


@pytest.fixture(scope="session")
def duckdb1_python() -> Path:
    """A throwaway environment with a DuckDB 1.x client, from the locked requirement."""
    python = BI_CLIENT_VENV / "bin" / "python"
    stamp = BI_CLIENT_VENV / "requirements.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text() == BI_CLIENT_LOCK.read_text()):
        uv = Path(sys.executable).with_name("uv")
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, BI_CLIENT_VENV], check=True
        )
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                "--require-hashes",
                "-r",
                BI_CLIENT_LOCK,
            ],
            check=True,
        )
        stamp.write_text(BI_CLIENT_LOCK.read_text())
    return python


def read_with_duckdb1(python: Path, database: Path) -> str:
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(duckdb.__version__)\n"
        "print(con.execute('SELECT count(*), sum(i) FROM marts.t').fetchall())\n"
        'print(con.execute("SELECT comment FROM duckdb_columns() "\n'
        "                  \"WHERE column_name = 'version'\").fetchall())\n"
    )
    run = subprocess.run([python, "-c", script, database], capture_output=True, text=True)
    return run.stdout + run.stderr


def test_a_duckdb_1x_client_opens_the_serving_file(tmp_path, duckdb1_python):
    serving = tmp_path / "kson.duckdb"
    publish_marts(make_build(tmp_path / "build.duckdb", 2), serving, ["t"], "v1.2.0")
    out = read_with_duckdb1(duckdb1_python, serving)
    assert out.splitlines() == ["1.5.6", "[(20, 190)]", "[('which build',)]"]


def test_the_default_storage_of_duckdb_2_is_what_1x_clients_cannot_open(tmp_path, duckdb1_python):
    # Why the storage version matters: a file in DuckDB 2.x's default storage format.
    default = tmp_path / "default.duckdb"
    with duckdb.connect(str(default)) as con:
        con.execute("CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS version, 0 AS i")
    assert "version number" in read_with_duckdb1(duckdb1_python, default)
