import dataclasses
import re

import duckdb
import pytest

from conftest import SAMPLE_DIR
from ingest.landing import (
    NO_FAMILY,
    UNCLAIMED,
    FileStore,
    load_family,
    quarantine_unclaimed,
    sha256_of,
)
from ingest.pii import RULE_FILE_NAME
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
    assert again.accepted == [] and again.unchanged == 1 and again.already_loaded == []
    assert con.execute("SELECT count(*) FROM raw.kolada_values").fetchall() == [(48,)]
    assert con.execute("SELECT count(*) FROM raw.load_log").fetchall() == [(1,)]


def test_the_same_content_twice_in_one_run_is_loaded_once(store, con):
    source = SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json"
    land(store, "a_copy.json", text=source.read_text("utf-8"))
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    outcome = load_family(con, KOLADA, store)
    assert outcome.accepted == [("kolada/a_copy.json", 48)]
    [(file_id,)] = con.execute("SELECT file_id FROM raw.load_log").fetchall()
    assert [str(again) for again in outcome.already_loaded] == [
        f"kolada/data_sarskilt_boende_0188_2020-2023.json: already loaded as file_id {file_id}"
    ]
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
    # Its reader scanned every text of it and found no personal data: a copy is kept.
    copy = store.quarantine_dir / report_path.removesuffix(".errors.txt")
    assert copy.read_bytes() == (store.landing_dir / "kolada" / "a_broken.json").read_bytes()


def raise_on_read(path):
    """A reader that fails (module level: readers run in worker processes)."""
    raise ValueError("broken reader")


def test_a_file_that_could_not_be_read_is_quarantined_without_a_copy(store, con):
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    outcome = load_family(con, dataclasses.replace(KOLADA, read=raise_on_read), store)
    [(path, report)] = outcome.quarantined
    assert "the file could not be read: ValueError" in report
    assert "not copied into quarantine: it could not be checked for personal data" in report
    assert [p.name for p in (store.quarantine_dir / "kolada").iterdir()] == [
        f"{sha256_of(store.landing_dir / path)[:12]}_data_sarskilt_boende_0188_2020-2023.json"
        ".errors.txt"
    ]


# A personnummer (valid check digit) in the names below, written in two of its forms.
NUMBER_IN_NAME = {"kolada/data 19121212-1212.json": "kolada", "121212\u20131212 notes.txt": None}


def test_a_file_whose_name_holds_a_personal_number_is_shown_by_its_hash_only(store, con):
    sample = (SAMPLE_DIR / "kolada" / "data_sarskilt_boende_0188_2020-2023.json").read_text()
    for name in NUMBER_IN_NAME:
        (store.landing_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (store.landing_dir / name).write_text(sample + " " * len(name), "utf-8")
    shas = [sha256_of(store.landing_dir / name) for name in NUMBER_IN_NAME]
    outcome = load_family(con, KOLADA, store)
    unclaimed = quarantine_unclaimed(con, FAMILIES.values(), store)

    [(kolada_path, report)] = outcome.quarantined
    assert kolada_path == f"kolada/[file sha256 {shas[0][:16]}]"
    assert report.splitlines()[0] == f"File:   [file sha256 {shas[0][:16]}]"
    assert f"- file name: {RULE_FILE_NAME} (expected: a name without one)" in report
    assert [path for path, _ in unclaimed.quarantined] == [
        f"unclaimed/[file sha256 {shas[1][:16]}]"
    ]
    assert con.execute("SELECT count(*) FROM raw.load_log").fetchall() == [(0,)]
    # Nothing the platform keeps or says holds the name: the log, the reports, their names.
    logged = con.execute("SELECT * FROM raw.quarantine_log").fetchall()
    kept = [p for p in store.quarantine_dir.rglob("*") if p.is_file()]
    assert len(logged) == 2 and all(p.name.endswith(".errors.txt") for p in kept)
    said = " ".join([str(logged), *(str(p) for p in kept), *(p.read_text() for p in kept)])
    said += str(outcome.quarantined) + str(unclaimed.quarantined)
    assert "1212" not in said


def read_then_break(path):
    """Kolada's reader, except that the metadata's frame does not fit the raw table (module
    level: readers run in worker processes)."""
    result = KOLADA.read(path)
    if "metadata" in path.name:
        result.tables["kolada_kpis"] = result.tables["kolada_kpis"].rename({"title": "x"})
    return result


def test_a_failure_while_inserting_leaves_nothing_half_written(store, con):
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    land(store, "kpi_U21463-U23595_metadata.json")
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


def test_snapshots_a_killed_load_left_behind_are_removed(store, con):
    incoming = store.archive_dir / ".incoming"
    for leftover in ("tmp3k9x/0", "kolada-abcd/1"):  # the version before; this version
        (incoming / leftover).mkdir(parents=True)
        (incoming / leftover / "data.json").write_text("{}", "utf-8")
    (incoming / "sie-efgh").mkdir()  # another family's: its own load removes it
    land(store, "data_sarskilt_boende_0188_2020-2023.json")
    load_family(con, KOLADA, store)
    assert [path.name for path in incoming.iterdir()] == ["sie-efgh"]


def test_bytes_loaded_before_under_another_path_are_reported_with_their_file_id(store, con):
    original = land(store, "data_sarskilt_boende_0188_2020-2023.json")
    load_family(con, KOLADA, store)
    [(file_id,)] = con.execute("SELECT file_id FROM raw.load_log").fetchall()
    put_back = land(store, "resent/data_sarskilt_boende_0188_2020-2023.json", original.read_text())
    outcome = load_family(con, KOLADA, store)
    assert outcome.unchanged == 1 and outcome.accepted == []
    assert [str(again) for again in outcome.already_loaded] == [
        f"kolada/resent/{put_back.name}: already loaded as file_id {file_id}"
    ]
    con.execute("UPDATE raw.load_log SET withdrawn_at = now(), withdrawal_reason = 'wrong'")
    [again] = load_family(con, KOLADA, store).already_loaded
    assert str(again).endswith(f"already loaded as file_id {file_id} (withdrawn)")


FOLDERS = (
    "kolada/ *.json; manual_indicators/ *.xlsx *.csv; budget/ *.xlsx *.csv; "
    "provider_reports/ *.xlsx *.csv; visit_logs/ *.csv; "
    "health_care_volumes/ *.csv; contract_followup/ *.csv; action_plans/ *.csv; "
    "sie/ *.se *.si *.sie"
)


def test_files_no_family_takes_are_quarantined_once_per_run_without_a_copy(store, con):
    landing = store.landing_dir
    files = {
        "kolada/notes.txt": "notes",
        "provider_reports/2023/report.xls": "old Excel",
        "unknown/data.json": "{}",
        "loose.csv": "a;b",
        "kolada/line\nbreak\x1b[2J.json.bak": "x",
    }
    for name, text in files.items():
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(text, "utf-8")
    for name in ("README.md", ".DS_Store", "kolada/.report.json.part", ".sync/state.db"):
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text("left alone", "utf-8")
    land(store, "data_sarskilt_boende_0188_2020-2023.json")  # taken by kolada

    outcome = quarantine_unclaimed(con, FAMILIES.values(), store)
    assert [path for path, _ in outcome.quarantined] == sorted(files)
    report = dict(outcome.quarantined)["kolada/line\nbreak\x1b[2J.json.bak"]
    assert report.splitlines()[:5] == [
        "File:   line?break?[2J.json.bak",
        "Source: unclaimed",
        "Result: rejected, 1 error(s)",
        "",
        f"- file: {NO_FAMILY} (expected: a family folder: {FOLDERS})",
    ]
    assert "not copied" in report
    kept = sorted(path.name for path in (store.quarantine_dir / UNCLAIMED).iterdir())
    assert len(kept) == len(files) and all(name.endswith(".errors.txt") for name in kept)

    quarantine_unclaimed(con, FAMILIES.values(), store)  # a second run: a second event each
    rows = con.execute(
        "SELECT landing_path, count(*), count(DISTINCT quarantine_id), any_value(source), "
        "any_value(first_error) FROM raw.quarantine_log GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert [row[:4] for row in rows] == [(path, 2, 2, UNCLAIMED) for path in sorted(files)]
    first_error = (
        f"line?break?[2J.json.bak: file: {NO_FAMILY} (expected: a family folder: {FOLDERS})"
    )
    assert rows[0][4] == first_error


FIRST_QUARANTINE_LOG = """
CREATE SCHEMA raw;
CREATE TABLE raw.quarantine_log (
    sha256 VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    landing_path VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, error_count INTEGER NOT NULL,
    first_error VARCHAR NOT NULL, report_path VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);
INSERT INTO raw.quarantine_log VALUES
    ('b2', 'kolada', 'b.json', 'kolada/b.json', 1, 1, 'b', 'kolada/b', '2025-01-02 02:00+01'),
    ('a1', 'kolada', 'a.json', 'kolada/a.json', 1, 1, 'a', 'kolada/a', '2025-01-01 02:00+01');
"""


def test_a_quarantine_log_of_the_first_version_gets_an_id_per_event(store, con):
    """Warehouses built before the log kept every event (one row per sha256, replaced)."""
    con.execute(FIRST_QUARANTINE_LOG)
    land(store, "a_broken.json", text="{not json")
    load_family(con, KOLADA, store)
    load_family(con, KOLADA, store)
    rows = con.execute(
        "SELECT quarantine_id, first_error FROM raw.quarantine_log ORDER BY quarantine_id"
    ).fetchall()
    assert [(i, e[:8]) for i, e in rows] == [
        (1, "a"),
        (2, "b"),
        (3, "a_broken"),
        (4, "a_broken"),
    ]
