"""The hostile-file corpus (``make_corpus.py``, outcomes in ``expected.csv``): ``kson validate``
on every file, then one ``kson run`` over all of them in a landing folder beside the sample.

Each file must end as its row says (accepted, rejected with its rule, masked, already loaded,
unclaimed), with no traceback anywhere and none of its planted personal identity numbers, in
any form, in what validate or the run print, in any file under the warehouse folder or the
Dagster home, or in any table of the two DuckDB files. Rows whose outcome waits for another
part of issue 10 are marked ``pending`` in the table: they run as expected failures (xfail).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from test_pipeline import SEED_004

from conftest import SAMPLE_DIR, Workspace, stale_marts
from hostile.make_corpus import Built, Expected, expected, leaks, make_corpus
from ingest import pii, validation
from orchestration.cli import validate_file

KSON = Path(sys.executable).with_name("kson")
ROWS = expected()
NO_FAMILY = "no source family takes this file"
SAMPLE_2023 = (
    ("kolada", "kolada"),
    ("provider", "provider_reports/2023"),
    ("provider", "visit_logs/visits_2023.csv"),
    ("provider", "contract_followup/contract_followup_2023.csv"),
    ("provider", "action_plans/action_plans.csv"),
    ("ledger", "sie/kson_2023.se"),
    ("ledger", "health_care_volumes/health_care_volumes_2023.csv"),
)


def rule_text(row: Expected) -> str:
    """The rule substring of a row, with ``{NAME}`` replaced by the constant it names."""
    constants = {
        "RULE_PERSONNUMMER": pii.RULE_PERSONNUMMER,
        "RULE_WITHOUT_ZERO": pii.RULE_WITHOUT_ZERO,
        "RULE_FILE_NAME": pii.RULE_FILE_NAME,
        "BOUND_RULE": validation.Bound.RULE,
        # defined by the first reader that checks for formulas; until then its rows fail
        "FORMULA_RULE": getattr(validation, "FORMULA_RULE", "\0 FORMULA_RULE is not defined"),
    }
    return re.sub(r"\{(\w+)\}", lambda m: constants[m.group(1)], row.rule)


def by_row(rows: list[Expected] = ROWS) -> list:
    """One parameter per row; a pending row is an expected failure, saying what it waits for."""
    return [
        pytest.param(
            row.key,
            id=row.key,
            marks=pytest.mark.xfail(reason=f"pending: {row.pending}") if row.pending else (),
        )
        for row in rows
    ]


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile") / "landing"


@pytest.fixture(scope="module")
def corpus(landing: Path) -> dict[str, Built]:
    return {b.expected.key: b for b in make_corpus(landing)}


def test_the_corpus_covers_every_family_and_outcome(corpus: dict[str, Built]):
    assert len(corpus) >= 60
    families = {row.family for row in ROWS}
    assert families == {
        "provider_reports",
        "budget",
        "manual_indicators",
        "visit_logs",
        "health_care_volumes",
        "contract_followup",
        "action_plans",
        "kolada",
        "sie",
        "other",
    }
    assert {row.outcome for row in ROWS} == {"accepted", "rejected", "masked", "copy", "unclaimed"}
    # every planted number is a valid one, and another one in every file
    planted = [number for b in corpus.values() for number in b.planted]
    assert planted and all(pii.is_personnummer(n) for n in planted if len(n) == 10)
    assert len(set(planted)) == len(planted)


# --------------------------------------------------------------------------------------------
# kson validate, file by file (in-process: it reads in its worker processes, as `kson` does)
# --------------------------------------------------------------------------------------------
@dataclass
class Validated:
    code: int
    answer: dict | None  # the --json answer (None when validate printed none)
    output: str  # everything printed, plain and --json


def validate(path: Path, capsys: pytest.CaptureFixture) -> Validated:
    output, answer = "", None
    for as_json in (True, False):
        code = validate_file(path, as_json)
        printed = capsys.readouterr()
        output += printed.out + printed.err
        if as_json and printed.out.strip():
            answer = json.loads(printed.out)
    return Validated(code, answer, output)


def masked_in(answer: dict) -> bool:
    """Whether validate says numbers were masked (a ``masked`` entry, or a note saying so)."""
    return bool(answer.get("masked")) or any("mask" in note for note in answer["notes"])


@pytest.mark.parametrize("key", by_row())
def test_validate(corpus: dict[str, Built], key: str, capsys: pytest.CaptureFixture):
    built = corpus[key]
    row = built.expected
    result = validate(built.path, capsys)
    assert "Traceback" not in result.output
    assert not leaks(result.output.encode(), built.planted), result.output
    answer = result.answer
    if row.outcome == "unclaimed":
        assert result.code == 2 and "not a format the platform knows" in result.output
        return
    assert answer is not None, result.output
    rules = [error["rule"] for error in answer["errors"]]
    if row.outcome in ("accepted", "copy"):
        assert (result.code, rules) == (0, []), rules
        assert not masked_in(answer)
    elif row.outcome == "masked":
        assert (result.code, rules) == (0, []), rules
        assert masked_in(answer), answer["notes"]
    else:
        assert result.code == 1, result.output  # 2 would be a reader that failed
        wanted = rule_text(row)
        assert any(wanted in rule for rule in rules), rules


# --------------------------------------------------------------------------------------------
# one run over the corpus beside the sample
# --------------------------------------------------------------------------------------------
@dataclass
class Run:
    workspace: Workspace
    process: subprocess.CompletedProcess
    found: set[str]  # planted numbers found at rest (files, tables)
    loaded: dict[str, str]  # sha256 → landing path of raw.load_log
    quarantined: dict[str, list[str]]  # sha256 → its quarantine reports' texts


def _at_rest(roots: list[Path], databases: list[Path], numbers: list[str]) -> set[str]:
    """The planted numbers in any file under ``roots`` (byte by byte; DuckDB files by their
    tables' text) and in any text column of the ``databases``."""
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and ".duckdb" not in path.name:
                found.update(leaks(path.read_bytes(), numbers))
    digits = "|".join(sorted({n[1:6] if n.startswith("0") else n[:6] for n in numbers}))
    for database in databases:
        with duckdb.connect(str(database), read_only=True) as con:
            columns = con.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE data_type NOT LIKE 'DECIMAL%' AND data_type NOT IN ('DATE', 'BOOLEAN', "
                "'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'DOUBLE', 'FLOAT')"
            ).fetchall()
            for schema, table, column in columns:
                texts = con.execute(
                    f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" '
                    f"WHERE regexp_matches(CAST(\"{column}\" AS VARCHAR), '{digits}')"
                ).fetchall()
                for (text,) in texts:
                    found.update(leaks(text.encode(), numbers))
    return found


@pytest.fixture(scope="module")
def run(
    corpus: dict[str, Built],
    landing: Path,
    provider_sample: Path,
    ledger_sample: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    # the sample of one year (2023) beside the corpus
    for origin, part in SAMPLE_2023:
        source = {"provider": provider_sample, "ledger": ledger_sample, "kolada": SAMPLE_DIR}
        (landing / part).parent.mkdir(parents=True, exist_ok=True)
        if (source[origin] / part).is_dir():
            shutil.copytree(source[origin] / part, landing / part, dirs_exist_ok=True)
        else:
            shutil.copy(source[origin] / part, landing / part)
    root = landing.parent
    workspace = Workspace(landing=landing, warehouse=root / "warehouse")
    dagster_home = root / "dagster_home"
    env = {
        **os.environ,
        "KSON_LANDING_DIR": str(landing),
        "KSON_WAREHOUSE": str(workspace.serving_db),
        "DAGSTER_HOME": str(dagster_home),
    }
    env.pop("KSON_BUILD_DB", None)
    process = subprocess.run([KSON, "run"], capture_output=True, text=True, env=env)
    numbers = [n for b in corpus.values() for n in b.planted]
    found = _at_rest(
        [workspace.warehouse, dagster_home], [workspace.build_db, workspace.serving_db], numbers
    )
    found.update(leaks((process.stdout + process.stderr).encode(), numbers))
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        loaded = dict(con.execute("SELECT sha256, landing_path FROM raw.load_log").fetchall())
        quarantined: dict[str, list[str]] = {}
        reports = con.execute("SELECT sha256, report_path FROM raw.quarantine_log").fetchall()
        for sha, report in reports:
            report_file = workspace.warehouse / "quarantine" / report
            quarantined.setdefault(sha, []).append(report_file.read_text("utf-8"))
    return Run(workspace, process, found, loaded, quarantined)


def test_the_run_publishes_the_sample_as_before(run: Run):
    output = run.process.stdout + run.process.stderr
    assert run.process.returncode == 0, output
    assert "Traceback" not in output
    assert stale_marts(run.workspace) == {}
    sample = [
        path
        for path in run.workspace.landing.rglob("*")
        if path.is_file() and "0_hostile" not in path.parts and path.name != "README.md"
    ]
    from_sample = [path for path in run.loaded.values() if "0_hostile" not in path]
    assert len(from_sample) == len(sample) > 250
    with duckdb.connect(str(run.workspace.serving_db), read_only=True) as con:
        rows = con.execute(
            "SELECT service, question_id, year, share_pct FROM marts.survey_results "
            "WHERE year IN (2020, 2022, 2023) AND municipality_id = '0188'"
        ).fetchall()
    # seed 004's 24 shares from the Kolada sample, not the corpus's 55 % for the same key
    shares = {(service, question, year): float(share) for service, question, year, share in rows}
    assert shares == {
        (service, question, year): float(value)
        for (service, question), values in SEED_004.items()
        for year, value in zip((2020, 2022, 2023), values, strict=True)
    }


@pytest.mark.parametrize("key", by_row())
def test_in_the_pipeline(run: Run, corpus: dict[str, Built], key: str):
    built = corpus[key]
    row = built.expected
    sha = hashlib.sha256(built.path.read_bytes()).hexdigest()
    landing_path = built.path.relative_to(run.workspace.landing).as_posix()
    assert not set(built.planted) & run.found, "a planted number is at rest or was printed"
    assert not any("Traceback" in report for report in run.quarantined.get(sha, []))
    if row.outcome in ("accepted", "masked"):
        assert run.loaded.get(sha) == landing_path, run.quarantined.get(sha)
    elif row.outcome == "copy":
        assert sha in run.loaded and run.loaded[sha] != landing_path
        assert f"{landing_path}: already loaded as file_id" in run.process.stdout
    elif row.outcome == "unclaimed":
        assert sha not in run.loaded
        assert any(NO_FAMILY in error for error in run.quarantined[sha])
    else:
        assert sha not in run.loaded
        assert any(rule_text(row) in error for error in run.quarantined.get(sha, [])), (
            run.quarantined.get(sha)
        )
