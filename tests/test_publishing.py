"""The serving file: versions behind an atomically swapped link, per-mart publication, readers
in the same process (DuckDB 2.x and 1.x clients, a pooled SQLAlchemy engine)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
import sqlalchemy
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    Definitions,
    Output,
    asset_check,
    define_asset_job,
    in_process_executor,
    multi_asset,
)
from sqlalchemy.pool import NullPool, QueuePool

from conftest import REPO_ROOT
from orchestration.assets.publish import KEPT_STALE, NEVER_PUBLISHED, decide
from orchestration.publishing import (
    Verdict,
    publication_status,
    publish_marts,
    published_tables,
)
from orchestration.resources import WarehouseResource

BI_CLIENT_VENV = REPO_ROOT / ".venv-duckdb1"
BI_CLIENT_LOCK = Path(__file__).parent / "bi_client" / "requirements.txt"
CURRENT = [Verdict("t")]


def make_build(path: Path, version: int, tables: tuple[str, ...] = ("t",)) -> Path:
    """A build database whose marts have ``10 * version`` rows, each saying ``version``."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        for table in tables:
            con.execute(
                f"CREATE TABLE marts.{table} AS SELECT {version} AS version, i "
                f"FROM range({10 * version}) r(i)"
            )
            con.execute(f"COMMENT ON TABLE marts.{table} IS 'a mart'")
            con.execute(f"COMMENT ON COLUMN marts.{table}.version IS 'which build'")
    return path


def versions(serving: Path) -> list[str]:
    return sorted(path.name for path in (serving.parent / "serving").iterdir())


def rows_of(con: duckdb.DuckDBPyConnection, table: str = "t") -> int:
    return con.execute(f"SELECT count(*) FROM marts.{table}").fetchall()[0][0]


def test_readers_never_see_a_half_written_or_mixed_state(tmp_path):
    builds = [make_build(tmp_path / f"build{v}.duckdb", v) for v in (1, 2)]
    serving = tmp_path / "warehouse" / "kson.duckdb"
    publish_marts(builds[0], serving, CURRENT, "v1.2.0")
    problems: list[str] = []
    reads = 0
    done = threading.Event()

    def read_in_a_loop() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                with duckdb.connect(str(serving), read_only=True) as con:
                    [(versions_seen, rows)] = con.execute(
                        "SELECT list(DISTINCT version), count(*) FROM marts.t"
                    ).fetchall()
                if len(versions_seen) != 1 or rows != 10 * versions_seen[0]:
                    problems.append(f"mixed state: {versions_seen}, {rows} rows")
                reads += 1
            except duckdb.Error as error:
                problems.append(str(error))

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    for i in range(30):
        publication = publish_marts(builds[i % 2], serving, CURRENT, "v1.2.0")
    done.set()
    reader.join()
    assert problems == []
    assert reads > 0
    # The serving path is a link to the newest of the three versions kept; nothing else is left.
    assert sorted(path.name for path in serving.parent.iterdir()) == ["kson.duckdb", "serving"]
    assert serving.is_symlink() and serving.resolve() == publication.path
    assert os.readlink(serving) == f"serving/{publication.path.name}"
    assert len(versions(serving)) == 3 and versions(serving)[-1] == publication.path.name
    assert published_tables(serving) == {"t": 20}


def test_a_process_holding_a_connection_gets_the_new_publication_on_its_next_connect(tmp_path):
    serving = tmp_path / "kson.duckdb"
    publish_marts(make_build(tmp_path / "build1.duckdb", 1), serving, CURRENT, "v1.2.0")
    with duckdb.connect(str(serving), read_only=True) as held:  # a BI server's open connection
        assert rows_of(held) == 10
        second = publish_marts(
            make_build(tmp_path / "build2.duckdb", 2), serving, CURRENT, "v1.2.0"
        )
        with duckdb.connect(str(serving), read_only=True) as fresh:
            assert rows_of(fresh) == 20
            [(publication,)] = fresh.execute("SELECT publication FROM meta.publication").fetchall()
            assert publication == second.id
        assert rows_of(held) == 10  # an open connection keeps the version it opened


def test_a_stale_mart_keeps_the_version_published_before(tmp_path):
    serving = tmp_path / "kson.duckdb"
    first = publish_marts(
        make_build(tmp_path / "build1.duckdb", 1, ("t", "u")),
        serving,
        [Verdict("t"), Verdict("u"), Verdict("never", ("marts/never:gx_never",), "failed")],
        "v1.2.0",
        run_id="run-1",
    )
    stale = Verdict("u", ("marts/u:gx_u",), "failed: marts/u:gx_u")
    build2 = make_build(tmp_path / "build2.duckdb", 2, ("t", "u", "never"))
    second = publish_marts(build2, serving, [Verdict("t"), stale], "v1.2.0", run_id="run-2")
    assert second.stale == {"u": "failed: marts/u:gx_u"}
    # Still failing a run later: the version comes from the first publication all the same.
    third = publish_marts(build2, serving, [Verdict("t"), stale], "v1.2.0", run_id="run-3")
    assert published_tables(serving) == {"t": 20, "u": 10}
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("SELECT DISTINCT version FROM marts.u").fetchall() == [(1,)]
        [(comment,)] = con.execute(
            "SELECT comment FROM duckdb_columns() "
            "WHERE table_name = 'u' AND column_name = 'version'"
        ).fetchall()
    assert comment == "which build"
    status = {row["mart"]: row for row in publication_status(serving)}
    assert {mart: row["status"] for mart, row in status.items()} == {
        "t": "current",
        "u": "stale",
    }
    assert (status["t"]["run_id"], status["t"]["publication"]) == ("run-3", third.id)
    assert status["u"]["run_id"] == "run-1"
    assert status["u"]["publication"] == first.id
    assert status["u"]["published_at"] < status["t"]["published_at"]
    assert status["u"]["failing_checks"] == ["marts/u:gx_u"]
    assert status["u"]["reason"] == "failed: marts/u:gx_u"
    assert status["u"]["row_count"] == 10
    assert status["t"]["failing_checks"] == [] and status["t"]["reason"] is None

    # A mart whose first version fails is not published at all, and says so.
    publish_marts(build2, serving, [Verdict("never", ("x:y",), "failed: x:y")], "v1.2.0")
    [row] = publication_status(serving)
    assert (row["mart"], row["status"], row["row_count"], row["run_id"]) == (
        "never",
        "stale",
        None,
        None,
    )
    assert published_tables(serving) == {}


def test_a_mart_not_in_the_run_keeps_its_version_and_status(tmp_path):
    serving = tmp_path / "kson.duckdb"
    build1 = make_build(tmp_path / "build1.duckdb", 1, ("t", "u", "w"))
    stale = Verdict("w", ("marts/w:gx_w",), "failed: marts/w:gx_w")
    publish_marts(build1, serving, [Verdict("t"), Verdict("u"), stale], "v1.2.0", run_id="run-1")
    before = {row["mart"]: row for row in publication_status(serving)}
    build2 = make_build(tmp_path / "build2.duckdb", 2, ("t", "u", "w"))
    kept = [Verdict("u", kept=True), Verdict("w", reason=KEPT_STALE, kept=True)]
    never = Verdict("new", reason=NEVER_PUBLISHED, kept=True)
    second = publish_marts(build2, serving, [Verdict("t"), *kept, never], "v1.2.0", run_id="run-2")
    after = {row["mart"]: row for row in publication_status(serving)}
    assert after["u"] == before["u"]  # current, of run-1, with its publication and time
    assert after["w"] == before["w"]  # stale, never published, and why
    assert (after["t"]["run_id"], after["t"]["publication"]) == ("run-2", second.id)
    assert (after["new"]["status"], after["new"]["reason"]) == ("stale", NEVER_PUBLISHED)
    assert published_tables(serving) == {"t": 20, "u": 10}
    assert second.stale == {"w": "failed: marts/w:gx_w", "new": NEVER_PUBLISHED}


def test_old_versions_are_deleted_and_a_killed_publish_leaves_nothing(tmp_path):
    build = make_build(tmp_path / "build.duckdb", 1)
    serving = tmp_path / "warehouse" / "kson.duckdb"
    first = publish_marts(build, serving, CURRENT, "v1.2.0", keep=2)
    # What a publish killed mid-way leaves: a staged file with its WAL, a link not yet renamed
    # (and, from before versioned publishing, a staged file beside the serving path).
    folder = serving.parent / "serving"
    leftovers = [
        folder / ".kson-20990101T000000000000Z-abcdef.duckdb.publishing",
        folder / ".kson-20990101T000000000000Z-abcdef.duckdb.publishing.wal",
        serving.with_name(".kson.duckdb.0123abcd.link"),
        serving.with_name(".kson.duckdb.0123abcd.publishing"),
        serving.with_name(".kson.duckdb.0123abcd.publishing.wal"),
    ]
    for leftover in leftovers:
        leftover.write_bytes(b"partial")
    names = [publish_marts(build, serving, CURRENT, "v1.2.0", keep=2).path.name for _ in range(3)]
    assert not any(leftover.exists() for leftover in leftovers)
    assert versions(serving) == names[-2:] and first.path.name not in versions(serving)
    assert sorted(path.name for path in serving.parent.iterdir()) == ["kson.duckdb", "serving"]

    # The version the link points at is never deleted, even when a newer name is there.
    newer = folder / "kson-99990101T000000000000Z-ffffff.duckdb"
    newer.write_bytes(serving.resolve().read_bytes())
    current = publish_marts(build, serving, CURRENT, "v1.2.0", keep=1)
    assert versions(serving) == sorted([current.path.name, newer.name])
    assert serving.resolve() == current.path


def test_a_regular_serving_file_of_before_becomes_the_oldest_version(tmp_path):
    serving = tmp_path / "kson.duckdb"
    with duckdb.connect(str(serving)) as con:  # as publish wrote it before versions
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA meta")
        con.execute("CREATE TABLE marts.t AS SELECT 7 AS version, i FROM range(7) r(i)")
        con.execute(
            "CREATE TABLE meta.publication AS SELECT TIMESTAMPTZ '2026-01-02 03:04:05+00' AS "
            "published_at, 'old-run' AS run_id, 'v1.2.0' AS storage_version, ['t'] AS tables"
        )
    with duckdb.connect(str(serving), read_only=True) as held:
        publication = publish_marts(
            make_build(tmp_path / "build.duckdb", 2),
            serving,
            [Verdict("t", ("marts/t:gx_t",), "failed: marts/t:gx_t")],
            "v1.2.0",
        )
        assert rows_of(held) == 7
    assert serving.is_symlink() and serving.resolve() == publication.path
    [adopted, _] = versions(serving)
    assert adopted.startswith("kson-") and adopted < publication.path.name
    [row] = publication_status(serving)
    assert (row["status"], row["run_id"], row["row_count"]) == ("stale", "old-run", 7)
    assert row["publication"] == adopted.removeprefix("kson-").removesuffix(".duckdb")
    assert str(row["published_at"]).startswith("2026-01-02 03:04:05")


def test_the_number_of_versions_kept_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("KSON_SERVING_KEEP", "5")
    assert WarehouseResource.from_env().serving_keep == 5
    monkeypatch.setenv("KSON_SERVING_KEEP", "0")
    with pytest.raises(ValueError, match="KSON_SERVING_KEEP='0'.*at least 1"):
        WarehouseResource.from_env()


def test_a_pooled_sqlalchemy_engine_gets_the_new_publication_on_a_new_connection(tmp_path):
    """duckdb-engine, as Superset connects. Superset's engines use NullPool: every query
    connects anew. With a QueuePool, a connection handed back to the pool keeps its version
    until the pool recycles it (``pool_recycle``)."""
    serving = tmp_path / "kson.duckdb"
    build1, build2, build3 = (make_build(tmp_path / f"build{v}.duckdb", v) for v in (1, 2, 3))
    count = sqlalchemy.text("SELECT count(*) FROM marts.t")
    url = f"duckdb:///{serving}"
    for pool in (QueuePool, NullPool):
        publish_marts(build1, serving, CURRENT, "v1.2.0")
        engine = sqlalchemy.create_engine(url, poolclass=pool, connect_args={"read_only": True})
        with engine.connect() as held:
            assert held.execute(count).scalar() == 10
            publish_marts(build2, serving, CURRENT, "v1.2.0")
            with engine.connect() as fresh:
                assert fresh.execute(count).scalar() == 20
            assert held.execute(count).scalar() == 10
        engine.dispose()
    # A connection that went back to a QueuePool keeps the version it opened.
    engine = sqlalchemy.create_engine(url, poolclass=QueuePool, connect_args={"read_only": True})
    with engine.connect() as pooled:
        assert pooled.execute(count).scalar() == 20
    publish_marts(build3, serving, CURRENT, "v1.2.0")
    with engine.connect() as reused:
        assert reused.execute(count).scalar() == 20
    engine.dispose()
    with engine.connect() as fresh:
        assert fresh.execute(count).scalar() == 30
    engine.dispose()


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
    publish_marts(make_build(tmp_path / "build.duckdb", 2), serving, CURRENT, "v1.2.0")
    out = read_with_duckdb1(duckdb1_python, serving)
    assert out.splitlines() == ["1.5.6", "[(20, 190)]", "[('which build',)]"]


def test_a_duckdb_1x_process_holding_a_connection_reconnects_to_the_new_publication(
    tmp_path, duckdb1_python
):
    serving = tmp_path / "kson.duckdb"
    publish_marts(make_build(tmp_path / "build1.duckdb", 1), serving, CURRENT, "v1.2.0")
    script = (
        "import duckdb, sys\n"
        "count = 'SELECT count(*) FROM marts.t'\n"
        "held = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(held.execute(count).fetchone()[0], flush=True)\n"
        "sys.stdin.readline()  # the test publishes meanwhile\n"
        "fresh = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(fresh.execute(count).fetchone()[0], held.execute(count).fetchone()[0])\n"
    )
    reader = subprocess.Popen(
        [duckdb1_python, "-c", script, serving],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert reader.stdout.readline() == "10\n"
    publish_marts(make_build(tmp_path / "build2.duckdb", 2), serving, CURRENT, "v1.2.0")
    out, _ = reader.communicate("go\n", timeout=60)
    assert out == "20 10\n"  # the new connection: the new version; the one held: the old


def test_the_default_storage_of_duckdb_2_is_what_1x_clients_cannot_open(tmp_path, duckdb1_python):
    # Why the storage version matters: a file in DuckDB 2.x's default storage format.
    default = tmp_path / "default.duckdb"
    with duckdb.connect(str(default)) as con:
        con.execute("CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 AS version, 0 AS i")
    assert "version number" in read_with_duckdb1(duckdb1_python, default)


def test_a_mart_is_current_only_when_it_and_everything_upstream_passed_its_checks():
    """The publish step's decision, on a run of a small graph: marts a → b, staging s → c, d, e."""
    a, b, c, d, e = (AssetKey(["marts", name]) for name in "abcde")
    s = AssetKey(["staging", "s"])

    @multi_asset(
        specs=[
            AssetSpec(a, skippable=True),
            AssetSpec(b, deps=[a], skippable=True),
            AssetSpec(s, skippable=True),
            AssetSpec(c, deps=[s], skippable=True),
            AssetSpec(d, skippable=True),
            AssetSpec(e, skippable=True),
        ],
        check_specs=[AssetCheckSpec("unique_id", asset=a)],
    )
    def models():  # like dbt: s fails, so c is skipped; a's own test passes
        yield Output(None, output_name="marts__a")
        yield AssetCheckResult(asset_key=a, check_name="unique_id", passed=True)
        yield Output(None, output_name="marts__b")
        yield Output(None, output_name="marts__d")
        yield Output(None, output_name="marts__e")

    @asset_check(asset=a)
    def gx_a() -> AssetCheckResult:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR)

    @asset_check(asset=d)
    def gx_d() -> AssetCheckResult:  # a warning publishes
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)

    @asset_check(asset=e)
    def gx_e() -> AssetCheckResult:
        raise RuntimeError("the suite could not run")

    defs = Definitions(
        assets=[models],
        asset_checks=[gx_a, gx_d, gx_e],
        jobs=[define_asset_job("refresh")],
        executor=in_process_executor,
    )
    job = defs.resolve_job_def("refresh")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    verdicts = decide(
        [a, b, c, d, e], job.asset_layer.asset_graph, instance.all_logs(result.run_id)
    )
    assert {v.mart: (v.failing_checks, v.reason) for v in verdicts} == {
        "a": (("marts/a:gx_a",), "failed: marts/a:gx_a"),
        "b": (("marts/a:gx_a",), "failed: marts/a:gx_a; built from stale a"),
        "c": ((), "not built in this run: staging/s (see the dbt log)"),
        "d": ((), None),
        "e": (("marts/e:gx_e (no result)",), "failed: marts/e:gx_e (no result)"),
    }


def test_a_mart_not_in_the_run_keeps_what_is_published_and_its_status():
    """Marts f → g, and h: a run of g only, f published stale, h never published."""
    f, g, h = (AssetKey(["marts", name]) for name in "fgh")

    @multi_asset(specs=[AssetSpec(f), AssetSpec(g, deps=[f]), AssetSpec(h)], can_subset=True)
    def models(context):  # noqa: ANN001, ANN202
        for key in context.selected_asset_keys:
            yield Output(None, output_name=key.to_python_identifier())

    defs = Definitions(assets=[models], jobs=[define_asset_job("refresh")])
    job = defs.resolve_job_def("refresh")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, asset_selection=[g])
    verdicts = decide(
        [f, g, h], job.asset_layer.asset_graph, instance.all_logs(result.run_id), {"f": "stale"}
    )
    assert {v.mart: (v.kept, v.reason) for v in verdicts} == {
        "f": (True, KEPT_STALE),
        "g": (False, "built from stale f"),
        "h": (True, NEVER_PUBLISHED),
    }
    verdicts = decide(
        [f, g], job.asset_layer.asset_graph, instance.all_logs(result.run_id), {"f": "current"}
    )
    assert {v.mart: (v.kept, v.reason) for v in verdicts} == {"f": (True, None), "g": (False, None)}
