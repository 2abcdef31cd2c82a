"""The manual-input file of the board's indicators (``ingest/manual_indicators.py``, contract
``docs/contracts/manual_indicators.md``) on real files: xlsx written with xlsxwriter, CSV as
Swedish Excel exports it (``;``, decimal comma, UTF-8 with BOM or Windows-1252, CRLF), the
committed template and sample (seed 004's values). Every rule is seen failing on a planted
file. No mocks.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from pii_forms import BORN_2005_WITHOUT_ZERO, FORMS

from ingest import manual_indicators as reader
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO
from ingest.registry import FAMILIES, family_for
from ingest.validation import FORMULA_EXPECTED, FORMULA_RULE
from sample_data import manual_indicators as gen

REPO = Path(__file__).resolve().parents[1]
HEADER = ["Indikator-id", "År", "Värde", "Kommentar", "Rapporterande enhet"]
GOOD_ROWS: list[list[object]] = [
    ["I02", 2022, 8.2, "Utskrivna 80+", "Norrtälje sjukhus"],
    ["i12", "2023", "15 000".replace(" ", ""), None, "primärvården"],  # case aside
    ["I05", 2023, "96,5", None, "  KSON   förvaltning "],  # whitespace aside
    ["I08", 2022, 0, None, "KSON förvaltning"],
]
EXPECTED = pl.DataFrame(
    {
        "indicator_id": ["I02", "I12", "I05", "I08"],
        "year": [2022, 2023, 2023, 2022],
        "value": [Decimal("8.20"), Decimal("15000.00"), Decimal("96.50"), Decimal("0.00")],
        "comment": ["Utskrivna 80+", None, None, None],
        "reporting_unit": [
            "Norrtälje sjukhus",
            "Primärvården",
            "KSON förvaltning",
            "KSON förvaltning",
        ],
        "source_row": [2, 3, 4, 5],
    },
    schema=reader.SCHEMA,
)


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = reader.SHEET) -> Path:
    """Rows (row 1 first): int/float → number cell, str → text cell, None → no cell."""
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, int | float):
                worksheet.write_number(r, c, value)
            elif value is not None:
                worksheet.write_string(r, c, value)
    workbook.close()
    return path


def write_csv(path: Path, rows: list[list[object]], encoding: str = "utf-8-sig") -> Path:
    """Rows as Swedish Excel writes them: ``;``, decimal comma, CRLF."""

    def text(value: object) -> str:
        return "" if value is None else str(value).replace(".", ",")

    lines = [";".join(text(v) for v in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def edited(row: int, col: int, value: object) -> list[list[object]]:
    """The good table (header first) with one cell replaced (``row`` 1 = the first value)."""
    rows = [list(HEADER), *[list(r) for r in GOOD_ROWS]]
    rows[row][col] = value
    return rows


def errors_of(path: Path) -> list[tuple[str, str, str | None]]:
    result = reader.read(path)
    assert result.tables == {}
    return [(e.place, e.rule, e.expected) for e in result.errors]


# --------------------------------------------------------------------------------------------
# good files
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["xlsx", "csv-utf8", "csv-cp1252"])
def test_a_good_file_gives_the_values(tmp_path, kind):
    rows = [HEADER, *GOOD_ROWS]
    if kind == "xlsx":
        path = write_xlsx(tmp_path / "manual_indicators_2023.xlsx", rows)
    else:
        encoding = "utf-8-sig" if kind == "csv-utf8" else "cp1252"
        path = write_csv(tmp_path / "manual_indicators_2023.csv", rows, encoding)
    result = reader.read(path)
    assert result.errors == [] and result.scanned
    assert result.tables[reader.TABLE].equals(EXPECTED)


def test_the_family_is_registered_and_guessed(tmp_path):
    assert FAMILIES[reader.SOURCE].tables == {reader.TABLE: reader.SCHEMA}
    named = write_xlsx(tmp_path / "manual_indicators_2024.xlsx", [HEADER, *GOOD_ROWS])
    other = write_csv(tmp_path / "indikatorer 2024.csv", [HEADER, *GOOD_ROWS])
    assert family_for(named).name == family_for(other).name == reader.SOURCE


def test_the_committed_template_and_sample_are_the_generators(tmp_path):
    template = gen.write_workbook(tmp_path / "t.xlsx")
    assert template.read_bytes() == gen.TEMPLATE_PATH.read_bytes()
    sample = gen.write_workbook(tmp_path / "s.xlsx", gen.sample_rows())
    assert sample.read_bytes() == gen.SAMPLE_PATH.read_bytes()
    # the empty template is read as a file without values, its sheets scanned
    assert [(e.rule) for e in reader.read(gen.TEMPLATE_PATH).errors] == [
        "no values under the table header"
    ]


def test_the_sample_carries_seed_004s_manual_values():
    result = reader.read(gen.SAMPLE_PATH)
    assert result.errors == [] and result.scanned
    got = {
        (ident, year): float(value)
        for ident, year, value in result.tables[reader.TABLE]
        .select("indicator_id", "year", "value")
        .rows()
    }
    seed = pl.read_csv(REPO / "tests/data/seed004_indicator_values.csv")
    catalog = pl.read_csv(REPO / "dbt_project/seeds/indicators/indicator_catalog.csv")
    manual = set(catalog.filter(pl.col("source") == "manual")["indicator_id"])
    expected = {
        (ident, year): float(value)
        for ident, year, value in seed.select("indicator_id", "year", "value").rows()
        if ident in manual and value is not None
    }
    assert got == expected and len(got) == 19
    assert got[("I02", 2022)] == 8.2 and got[("I12", 2022)] == 12559
    assert ("I13", 2023) not in got and ("I01", 2022) not in got  # "-" in the seed


# --------------------------------------------------------------------------------------------
# every rule failing
# --------------------------------------------------------------------------------------------
R = reader
CASES = [
    # (row, col, value, rule, expected contains)
    (1, 0, "I99", R.RULE_INDICATOR_UNKNOWN, "manual indicator"),
    (1, 0, "I07", R.RULE_NOT_MANUAL, "manual indicator"),  # from provider_month
    (1, 0, None, R.RULE_EMPTY, "manual indicator"),
    (1, 1, 1999, R.RULE_YEAR, "2000 to 2099"),
    (1, 1, 2100, R.RULE_YEAR, "2000 to 2099"),
    (1, 1, "tjugo", R.RULE_NOT_NUMBER, "reporting year"),
    (1, 1, 2022.5, R.RULE_NOT_WHOLE, "reporting year"),
    (1, 2, 100.5, R.RULE_SHARE, "0 to 100"),  # I02 is a share
    (1, 2, -1, R.RULE_SHARE, "0 to 100"),
    (2, 2, -3, R.RULE_NEGATIVE, "0 or more"),  # I12 is a count
    (2, 2, 12.5, R.RULE_NOT_WHOLE, "whole number"),
    (2, 2, 20_000_000, R.RULE_OUT_OF_RANGE, "0 to 10000000"),
    (1, 2, 8.123, R.RULE_DECIMALS, "in the indicator's unit"),
    (1, 2, "åtta", R.RULE_NOT_NUMBER, "in the indicator's unit"),
    (1, 2, None, R.RULE_EMPTY, "leave out the row"),
    (1, 2, "9" * 40, R.RULE_TOO_LARGE, "in the indicator's unit"),
    (1, 3, "x" * 1001, R.RULE_TOO_LONG, "1000 characters"),
    (1, 4, "Anna Andersson", R.RULE_UNIT_UNKNOWN, "never a person's name"),
    (1, 4, None, R.RULE_EMPTY, "never a person's name"),
    (1, 4, "x" * 101, R.RULE_TOO_LONG, "100 characters"),
]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
@pytest.mark.parametrize(("row", "col", "value", "rule", "expected"), CASES)
def test_a_broken_cell_is_rejected_with_place_and_rule(
    tmp_path, kind, row, col, value, rule, expected
):
    rows = edited(row, col, value)
    if kind == "xlsx":
        path = write_xlsx(tmp_path / "manual_indicators.xlsx", rows)
        place = f"sheet Indikatorer, row {row + 1}, column {'ABCDE'[col]} ({HEADER[col]})"
    else:
        path = write_csv(tmp_path / "manual_indicators.csv", rows)
        place = f"line {row + 1}, column {col + 1} ({HEADER[col]})"
    [(got_place, got_rule, got_expected)] = errors_of(path)
    assert (got_place, got_rule) == (place, rule)
    assert expected in got_expected


def test_an_indicator_and_year_twice_is_rejected_naming_the_first(tmp_path):
    rows = [HEADER, *GOOD_ROWS, ["I02", 2022, 8.3, None, "KSON förvaltning"]]
    [(place, rule, expected)] = errors_of(write_csv(tmp_path / "manual_indicators.csv", rows))
    assert (place, rule) == ("line 6", reader.RULE_DUPLICATE)
    assert expected == "each indicator and year once (also at line 2)"


def test_a_missing_column_and_a_missing_sheet_are_rejected(tmp_path):
    rows = [[c for c in row[:4]] for row in [HEADER, *GOOD_ROWS]]
    assert errors_of(write_csv(tmp_path / "manual_indicators.csv", rows)) == [
        (
            "line 1 (table header)",
            "missing column Rapporterande enhet",
            "a column headed 'Rapporterande enhet'",
        )
    ]
    path = write_xlsx(tmp_path / "manual_indicators.xlsx", [HEADER, *GOOD_ROWS], sheet="Blad1")
    [(place, rule, _)] = errors_of(path)
    assert (place, rule) == ("file", "no sheet named Indikatorer")


@pytest.mark.parametrize("form", FORMS)
def test_a_personnummer_in_the_comment_is_rejected_without_its_value(tmp_path, form):
    rows = edited(2, 3, f"Gäller {form}")
    for path in (
        write_csv(tmp_path / "manual_indicators.csv", rows),
        write_xlsx(tmp_path / "manual_indicators.xlsx", rows),
    ):
        result = reader.read(path)
        assert result.tables == {} and result.scanned
        [error] = result.errors
        assert error.rule == RULE_PERSONNUMMER and error.personal_data
        assert error.place.endswith("3, column D (Kommentar)") or error.place.endswith(
            "column 4 (Kommentar)"
        )
        assert form not in str(error) and "1212" not in str(error)


def test_a_personnummer_elsewhere_in_the_workbook_and_without_its_zero(tmp_path):
    path = tmp_path / "manual_indicators.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet(reader.SHEET)
    for r, row in enumerate([HEADER, *GOOD_ROWS]):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    sheet.write_number(1, 2, int(BORN_2005_WITHOUT_ZERO))  # a value of 9 digits
    workbook.add_worksheet("Anteckningar").write_string(4, 1, "19121212-1212")
    workbook.close()
    result = reader.read(path)
    assert result.scanned and result.tables == {}
    assert [(e.place, e.rule) for e in result.errors] == [
        ("sheet Anteckningar, row 5, column B", RULE_PERSONNUMMER),
        ("sheet Indikatorer, row 2, column C (Värde)", RULE_WITHOUT_ZERO),
    ]
    assert all(e.personal_data for e in result.errors)


@pytest.mark.parametrize(("col", "text"), [(3, "=HYPERLINK(1)"), (4, "+Primärvården"), (3, "@x")])
def test_formula_text_is_rejected(tmp_path, col, text):
    rows = edited(1, col, text)
    [(place, rule, expected)] = errors_of(write_csv(tmp_path / "manual_indicators.csv", rows))
    assert (place, rule, expected) == (
        f"line 2, column {col + 1} ({HEADER[col]})",
        FORMULA_RULE,
        FORMULA_EXPECTED,
    )


def test_a_leading_dash_is_plain_text(tmp_path):
    rows = edited(1, 3, "- utan sjukhusets akutvård")
    result = reader.read(write_csv(tmp_path / "manual_indicators.csv", rows))
    assert result.errors == []
    assert result.tables[reader.TABLE]["comment"][0] == "- utan sjukhusets akutvård"


def test_an_undecodable_file_is_not_scanned(tmp_path):
    path = tmp_path / "manual_indicators.csv"
    path.write_bytes(b"Indikator-id;\x81\x8d\x8f\x90\x9d;\xff\xfe\x00\n")
    result = reader.read(path)
    assert result.errors and not result.scanned
