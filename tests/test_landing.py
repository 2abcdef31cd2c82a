import dataclasses
import re

import duckdb
import pytest

from conftest import SAMPLE_DIR
from ingest.landing import FileStore, load_family, sha256_of
from ingest.registry import FAMILIES

KOLADA = FAMILIES["kolada"]


@pytest.fixture
def store(tmp_path):
    return FileStore(
        landing_dir=tmp_path / "landing",
        archive_dir=tmp_path / "archive",
        quarantine_dir=tmp_path / "quarantine",
    )


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "build.duckdb")) as connection:
        yield connection


def land(store, name, text=None, source=SAMPLE_DIR / "kolada"):
    target = store.landing_dir / "kolada" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text if text is not None else (source / name).read_text("utf-8"), "utf-8")
    return target


def test_accepted_file_is_logged_archived_and_its_rows_carry_its_file_id(store, con):
    path = land(store, "data_sarskilt_boende_0188_2020-2023.json")
    outcome = load_family(con, KOLADA, store)
    assert outcome.accepted == [("kolada/data_sarskilt_boende_0188_2020-2023.json", 48)]
    [(file_id, sha, size, rows, archive)] = con.execute(
        "SELECT file_id, sha256, size_bytes, row_count, archive_path FROM raw.load_log"
    ).fetchall()
    assert sha == sha256_of(path) and size == path.stat().st_size and rows == 48
    assert (store.archive_dir / archive).read_bytes() == path.read_bytes()
    assert con.execute("SELECT DISTINCT file_id FROM raw.kolada_values").fetchall() == [(file_id,)]


def test_loading_the_same_file_twice_adds_nothing(store, con):
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    load_family(con, KOLADA, store)
    again = load_family(con, KOLADA, store)
    assert again.accepted == [] and again.skipped == [
        "kolada/data_sarskilt_boende_0188_2020-2023.json"
    ]
    assert con.execute("SELECT count(*) FROM raw.kolada_values").fetchall() == [(48,)]
    assert con.execute("SELECT count(*) FROM raw.load_log").fetchall() == [(1,)]


def test_the_same_content_twice_in_one_run_is_loaded_once(store, con):
    source = SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json"
    land(store, "a_copy.json", text=source.read_text("utf-8"))
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    outcome = load_family(con, KOLADA, store)
    assert outcome.accepted == [("kolada/a_copy.json", 48)]
    assert outcome.skipped == ["kolada/data_sarskilt_boende_0188_2020-2023.json"]
    assert con.execute("SELECT count(*) FROM raw.kolada_values").fetchall() == [(48,)]


def test_files_get_their_file_ids_in_landing_path_order(store, con):
    names = sorted(path.name for path in (SAMPLE_DIR / "kolada").glob("*.json"))
    for name in names:
        land(store, name)
    outcome = load_family(con, KOLADA, store)
    assert [path for path, _ in outcome.accepted] == [f"kolada/{name}" for name in names]
    logged = con.execute("SELECT file_name FROM raw.load_log ORDER BY file_id").fetchall()
    assert [name for (name,) in logged] == names


def test_bad_file_is_quarantined_with_a_report_and_the_others_still_load(store, con):
    land(store, "a_broken.json", text='{"values": [{"kpi": "U21468", "period": 2022}]}')
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    outcome = load_family(con, KOLADA, store)
    assert [path for path, _ in outcome.accepted] == [
        "kolada/data_sarskilt_boende_0188_2020-2023.json"
    ]
    [(path, report)] = outcome.quarantined
    assert path == "kolada/a_broken.json"
    assert "values[0]: needs exactly one of 'municipality' and 'ou'" in report
    assert "values[0].values: missing or empty list of values" in report
    [(report_path, count)] = con.execute(
        "SELECT report_path, error_count FROM raw.quarantine_log"
    ).fetchall()
    assert count == 2
    assert (store.quarantine_dir / report_path).read_text("utf-8") == report
    assert con.execute("SELECT count(*) FROM raw.load_log").fetchall() == [(1,)]


def test_a_failure_while_inserting_leaves_nothing_half_written(store, con):
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    land(store, "kpi_U21463-U23595_metadata.json")
    original = KOLADA.read

    def read_then_break(path):
        result = original(path)
        if "metadata" in path.name:  # a frame whose columns do not fit the raw table
            result.tables["kolada_kpis"] = result.tables["kolada_kpis"].rename({"title": "x"})
        return result

    broken = dataclasses.replace(KOLADA, read=read_then_break)
    with pytest.raises(duckdb.Error):
        load_family(con, broken, store)
    # The file accepted before the failure stays; the failing one left no rows and no log entry.
    assert con.execute("SELECT file_name FROM raw.load_log").fetchall() == [
        ("data_sarskilt_boende_0188_2020-2023.json",)
    ]
    assert con.execute("SELECT count(*) FROM raw.kolada_kpis").fetchall() == [(0,)]


def test_sie_files_load_and_a_broken_ledger_is_quarantined_with_its_line(
    store, con, shared_reference
):
    folder = store.landing_dir / "sie"
    folder.mkdir(parents=True)
    for name in ("alipsa_44_sie4.se", "jsisie_transaktioner_ovnbolag-bad-balance.se"):
        (folder / name).write_bytes((shared_reference / "sie" / name).read_bytes())
    outcome = load_family(con, FAMILIES["sie"], store)
    [(accepted, rows)] = outcome.accepted
    assert accepted == "sie/alipsa_44_sie4.se" and rows > 0
    [(rejected, report)] = outcome.quarantined
    assert rejected == "sie/jsisie_transaktioner_ovnbolag-bad-balance.se"
    assert re.search(r"- line \d+: .*balance", report)
    [(ib,)] = con.execute(
        "SELECT amount FROM raw.sie_balances WHERE kind = 'IB' AND year_index = 0 "
        "AND account = '1930'"
    ).fetchall()
    assert str(ib) == "263238.84"
