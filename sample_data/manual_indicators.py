"""The manual-input file of the board's indicators: KSON's Excel template and the sample.

- ``data/templates/manual_indicators.xlsx``: the template KSON's units fill in (sheet
  ``Indikatorer``, lists of the manual indicators and reporting units, sheet ``Anvisning``);
- ``data/sample/manual_indicators/manual_indicators_2022-2023.xlsx``: the template filled in
  with seed 004's 2022 and 2023 values of every manual indicator that has one
  (``tests/data/seed004_indicator_values.csv``; ``-`` in the seed is a row left out).

Both are committed and written from the catalog seed and ``ingest.manual_indicators``; a test
checks that they are what this module writes. Usage::

    python -m sample_data.manual_indicators
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import xlsxwriter

from ingest import reference
from ingest.manual_indicators import COLUMNS, MAX_UNIT, SHEET, YEAR

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "data" / "templates" / "manual_indicators.xlsx"
SAMPLE_PATH = (
    REPO_ROOT / "data" / "sample" / "manual_indicators" / "manual_indicators_2022-2023.xlsx"
)
SEED_VALUES = REPO_ROOT / "tests" / "data" / "seed004_indicator_values.csv"
_FIXED_TIME = dt.datetime(2024, 1, 1)
ENTRY_ROWS = 60

# Which unit reports which indicator in the sample (made up; the units are the register's).
SAMPLE_UNITS = {
    "I02": "Norrtälje sjukhus",
    "I09": "Husläkarmottagningarna",
    "I10": "Tiohundra AB",
    "I11": "BUP Norrtälje",
    "I12": "Primärvården",
    "I13": "Norrtälje sjukhus",
}
SAMPLE_COMMENT = "Som redovisat i Budget 2024 och verksamhetsplan 2024–2026"

_HELP = (
    ("Indikator-id", "Id för en manuellt rapporterad indikator, se bladet Lista (t.ex. I02)."),
    ("År", f"Rapportåret, {YEAR.minimum}–{YEAR.maximum}. En rad per indikator och år."),
    (
        "Värde",
        "I indikatorns enhet: andel i procent 0–100 (t.ex. 8,2), antal som heltal. "
        "Högst två decimaler. Lämna ut raden för ett år utan värde.",
    ),
    ("Kommentar", "Frivillig. Inga personuppgifter."),
    (
        "Rapporterande enhet",
        f"Enheten som lämnar värdet, ur listan (högst {MAX_UNIT} tecken), aldrig en persons namn.",
    ),
    (
        "Personuppgifter",
        "Filen får inte innehålla personnummer, namn eller andra uppgifter som identifierar "
        "en enskild person. Text får inte börja med =, + eller @.",
    ),
)


def manual_indicators() -> pl.DataFrame:
    """The catalog's manual indicators: indicator_id, name_sv, unit."""
    catalog = reference.indicator_catalog()
    return catalog.filter(pl.col("source") == "manual").select("indicator_id", "name_sv", "unit")


def sample_rows() -> list[tuple[str, int, float, str, str]]:
    """Seed 004's 2022 and 2023 values of the manual indicators, with unit and comment."""
    seed = pl.read_csv(SEED_VALUES, schema_overrides={"value": pl.Float64})
    rows = seed.join(manual_indicators(), on="indicator_id").drop_nulls("value")
    return [
        (
            ident,
            year,
            value,
            SAMPLE_COMMENT,
            SAMPLE_UNITS.get(ident, "KSON förvaltning"),
        )
        for ident, year, value in rows.sort("indicator_id", "year")
        .select("indicator_id", "year", "value")
        .rows()
    ]


def write_workbook(path: Path, rows: list[tuple[str, int, float, str, str]] = ()) -> Path:
    """The template, with ``rows`` filled in (none: the empty template)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties(
        {"created": _FIXED_TIME, "author": "KSON", "title": "Indikatorer, manuell rapportering"}
    )
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bottom": 1, "bg_color": "#DDEBF7"})
    cell = {"bg_color": "#FFF2CC", "border": 1}
    formats = [
        wb.add_format({**cell, "num_format": "@"}),
        wb.add_format({**cell, "num_format": "0"}),
        wb.add_format({**cell, "num_format": "0.0#"}),
        wb.add_format({**cell, "num_format": "@"}),
        wb.add_format({**cell, "num_format": "@"}),
    ]
    ws = wb.add_worksheet(SHEET)
    for col, width in enumerate((14, 8, 12, 50, 28)):
        ws.set_column(col, col, width)
    for col, column in enumerate(COLUMNS):
        ws.write_string(0, col, column.label, head)
    for r in range(1, ENTRY_ROWS + 1):
        for col, fmt in enumerate(formats):
            ws.write_blank(r, col, None, fmt)
    for r, (ident, year, value, comment, unit) in enumerate(rows, start=1):
        ws.write_string(r, 0, ident, formats[0])
        ws.write_number(r, 1, year, formats[1])
        ws.write_number(r, 2, value, formats[2])
        ws.write_string(r, 3, comment, formats[3])
        ws.write_string(r, 4, unit, formats[4])
    last = ENTRY_ROWS
    indicators = manual_indicators()
    ws.data_validation(
        1, 0, last, 0, {"validate": "list", "source": f"=Lista!$A$2:$A${indicators.height + 1}"}
    )
    ws.data_validation(
        1,
        1,
        last,
        1,
        {
            "validate": "integer",
            "criteria": "between",
            "minimum": YEAR.minimum,
            "maximum": YEAR.maximum,
        },
    )
    units = reference.reporting_units()
    ws.data_validation(
        1, 4, last, 4, {"validate": "list", "source": f"=Lista!$E$2:$E${len(units) + 1}"}
    )
    ws.freeze_panes(1, 0)

    lists = wb.add_worksheet("Lista")
    for col, label in enumerate(("Indikator-id", "Indikator", "Enhet", "", "Rapporterande enhet")):
        if label:
            lists.write_string(0, col, label, bold)
    lists.set_column(1, 1, 90)
    lists.set_column(4, 4, 28)
    for r, (ident, name, unit) in enumerate(indicators.rows(), start=1):
        lists.write_string(r, 0, ident)
        lists.write_string(r, 1, name)
        lists.write_string(r, 2, unit)
    for r, unit in enumerate(units, start=1):
        lists.write_string(r, 4, unit)

    help_ws = wb.add_worksheet("Anvisning")
    help_ws.set_column(0, 0, 24)
    help_ws.set_column(1, 1, 100)
    help_ws.write_string(0, 0, "Fält", bold)
    help_ws.write_string(0, 1, "Anvisning", bold)
    for r, (label, note) in enumerate(_HELP, start=1):
        help_ws.write_string(r, 0, label)
        help_ws.write_string(r, 1, note)
    wb.close()
    return path


def main() -> None:
    print(f"template -> {write_workbook(TEMPLATE_PATH)}")
    print(f"sample   -> {write_workbook(SAMPLE_PATH, sample_rows())}")


if __name__ == "__main__":
    main()
