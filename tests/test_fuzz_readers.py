"""A mutation fuzzer for every reader: small valid files of each family (the templates of
``tests/hostile/make_corpus.py``) with random byte and cell mutations. Whatever a mutation
does, the reader must accept the file or reject it with a rule and a place; an exception is a
failure, and no report may show a personal identity number a mutation planted.

Bounded and derandomized in ``make test`` (profile ``ci``, ~40 examples per family); ``make
fuzz`` runs profile ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``: random, 2,000 examples per family,
failures kept in the system temp folder to replay).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from hostile.make_corpus import (
    BUDGET_ROWS,
    BUILDERS,
    MANUAL_NAME,
    MANUAL_ROWS,
    REPORT_NAME,
    Planted,
    leaks,
    report_rows,
    xlsx_bytes,
)
from ingest.registry import FAMILIES

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=2_000,
    deadline=None,
    database=DirectoryBasedExampleDatabase(Path(tempfile.gettempdir()) / "kson-hypothesis"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# family → the valid files mutated (corpus keys), read under their own names
SEEDS: dict[str, tuple[str, ...]] = {
    "provider_reports": (
        f"provider_reports/ok/{REPORT_NAME}.xlsx",
        f"provider_reports/ok/{REPORT_NAME}.csv",
    ),
    "budget": ("budget/ok/budget_2024.xlsx", "budget/ok/budget_2024.csv"),
    "manual_indicators": (
        f"manual_indicators/ok/{MANUAL_NAME}.xlsx",
        f"manual_indicators/ok/{MANUAL_NAME}.csv",
    ),
    "visit_logs": ("visit_logs/ok/visits_2024.csv",),
    "health_care_volumes": ("health_care_volumes/ok/health_care_volumes_2024.csv",),
    "contract_followup": ("contract_followup/ok/contract_followup_2023.csv",),
    "action_plans": ("action_plans/ok/action_plans.csv",),
    "kolada": ("kolada/ok/data_hostile.json",),
    "sie": ("sie/ok/kson_2023.se",),
}
PLANTED = Planted()
# One personal identity number per form, planted by cell mutations.
NUMBERS = [PLANTED.new(form) for form in ("-", " ", "\u2013", "+", "", "12", "sam", "no zero")]
# Values a cell may be replaced with: empty, signs, huge, special floats, formulas, dates,
# separators and quotes, control characters, other scripts, long text, personal numbers.
CELLS = [
    "",
    " ",
    "-1",
    "-0",
    "0,5",
    "1.5",
    "1e308",
    "1e-308",
    "NaN",
    "inf",
    "-inf",
    "99999999999999999999",
    "=1+1",
    "+SUM(1)",
    "@SUM(1)",
    "=cmd|' /C calc'!A0",
    "2023-02-30",
    "2023-13-01",
    "20230230",
    ";",
    ",",
    '"',
    '""',
    "{",
    "}",
    "#VER",
    "\r\n",
    "\x00",
    "\x1a",
    "\ufeff",
    "ÅÄÖ åäö",
    "ΘΩЖ漢字",
    "\U0001f600",
    "x" * 5000,
    *NUMBERS,
]


def _seed(key: str) -> tuple[str, bytes]:
    return key.rsplit("/", 1)[1], BUILDERS[key](Planted())


def _split(data: bytes) -> list[bytes]:
    """A text file's bytes split into fields and separators (kept), for cell mutations."""
    parts, start = [], 0
    for i, byte in enumerate(data):
        if byte in b';,\n\r"{} \t':
            parts += [data[start:i], data[i : i + 1]]
            start = i + 1
    return [*parts, data[start:]]


@st.composite
def text_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """Cells replaced by ``CELLS``, then bytes flipped, inserted, deleted, duplicated or the
    file cut short."""
    parts = _split(data)
    fields = list(range(0, len(parts), 2))
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.sampled_from(fields))
        encoding = draw(st.sampled_from(["utf-8", "cp1252", "utf-16-le"]))
        parts[index] = draw(st.sampled_from(CELLS)).encode(encoding, "replace")
    return draw(byte_mutations(b"".join(parts)))


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "cut"]))
        if kind == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            out[at:at] = out[at : at + draw(st.integers(1, 256))]
        else:
            del out[at:]
    return bytes(out)


@st.composite
def workbook_mutations(draw: st.DrawFn, sheet: str, rows: list[list[object]]) -> bytes:
    """A workbook with cells replaced by ``CELLS`` or numbers, sometimes its bytes mutated."""
    rows = [list(row) for row in rows]
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, max(len(rows[r]), 1)))
        rows[r] += [None] * (c + 1 - len(rows[r]))
        rows[r][c] = draw(
            st.one_of(
                st.sampled_from(CELLS),
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-(10**15), 10**15),
                st.none(),
            )
        )
    data = xlsx_bytes(rows, sheet=sheet)
    return draw(byte_mutations(data)) if draw(st.booleans()) else data


def mutations(key: str) -> st.SearchStrategy[bytes]:
    name, data = _seed(key)
    if name.endswith(".xlsx"):
        if key.startswith("budget/"):
            return workbook_mutations("Budget", BUDGET_ROWS)
        if key.startswith("manual_indicators/"):
            return workbook_mutations("Indikatorer", MANUAL_ROWS)
        return workbook_mutations("Rapport", report_rows())
    return text_mutations(data)


def check_outcome(read: Callable[[Path], object], path: Path) -> None:
    """Accepted, or rejected with a rule and a place for each error; no number echoed."""
    result = read(path)
    if result.errors:
        assert not result.tables
        for error in result.errors:
            assert error.rule and error.place, error
            assert not error.rule.startswith("the file could not be read"), error
    else:
        assert result.tables
    shown = "\n".join([*map(str, result.errors), *result.notes, *result.masked])
    assert not leaks(shown.encode(), PLANTED.numbers), shown


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("key", [key for keys in SEEDS.values() for key in keys])
def test_every_seed_is_valid(folder: Path, key: str):
    name, data = _seed(key)
    path = folder / name
    path.write_bytes(data)
    result = FAMILIES[key.split("/")[0]].read(path)
    assert result.ok, [str(e) for e in result.errors]


@pytest.mark.parametrize("key", [key for keys in SEEDS.values() for key in keys])
def test_a_mutated_file_is_accepted_or_rejected_with_a_rule(folder: Path, key: str):
    family = FAMILIES[key.split("/")[0]]
    path = folder / key.rsplit("/", 1)[1]

    @given(mutations(key))
    def read_mutated(data: bytes) -> None:
        path.write_bytes(data)
        check_outcome(family.read, path)

    read_mutated()
