"""The budget file reader (``ingest/budget.py``, contract ``docs/contracts/budget.md``) on real
files: xlsx written with xlsxwriter, CSV as Swedish Excel exports it (UTF-8 with BOM or
Windows-1252, ``;``, decimal comma, CRLF, lines padded with ``;``), and the sample budget
written by ``sample_data.ledgers``, checked against the SIE file's ``#PBUDGET``. No mocks.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter
from stdnum import luhn

from ingest import budget as reader
from ingest import sie
from ingest.landing import FileStore, load_family
from ingest.pii import RULE_PERSONNUMMER, RULE_WITHOUT_ZERO
from ingest.registry import FAMILIES, family_for
from ingest.spreadsheet import RULE_UNSAVED_FORMULA
from ingest.validation import FORMULA_EXPECTED, FORMULA_RULE, MAX_ERRORS_PER_RULE, ReadResult
from sample_data.ledgers import generate

PNR = "19121212-1212"  # Skatteverket's test number: a valid personnummer
HEADER = ["År", "Månad", "Konto", "Ansvar", "Verksamhet", "Belopp"]
GOOD_ROWS: list[list[object]] = [
    [2024, 1, "3331", None, "990", -159341000],
    [2024, 1, "4660", "2110", "511", 8250000.5],
    [2024, 2, 4660, "2110", 511, "-1250,75"],  # codes as number cells, amount as text
    [2024, 12, "5010", "Ö1", "920", 0.1 + 0.2],  # Excel's float noise: 0.30
    [2024, 3, "5010", None, "920", 159341666.67],  # stored as 159341666.669999987
]
EXPECTED = pl.DataFrame(
    {
        "year": [2024] * 5,
        "month": [1, 1, 2, 12, 3],
        "account": ["3331", "4660", "4660", "5010", "5010"],
        "responsibility": [None, "2110", "2110", "Ö1", None],
        "activity": ["990", "511", "511", "920", "920"],
        "amount": [
            Decimal("-159341000.00"),
            Decimal("8250000.50"),
            Decimal("-1250.75"),
            Decimal("0.30"),
            Decimal("159341666.67"),
        ],
        "source_row": [2, 3, 4, 5, 6],
        "budget_version": [1] * 5,
    },
    schema=reader.SCHEMA,
)
CSV_LINES = [
    "År;Månad;Konto;Ansvar;Verksamhet;Belopp;;",
    "2024;1;3331;;990;-159341000;;",
    "2024;1;4660;2110;511;8250000,50;;",
    "2024;2;4660;2110;511;-1250,75;;",
    "2024;12;5010;Ö1;920;0,3;;",
    "2024;3;5010;;920;159341666,67;;",
    ";;;;;;;",
]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Budget") -> Path:
    """Rows (row 1 first) on a sheet: int/float → number cell, str → text cell, None → none."""
    workbook = xlsxwriter.Workbook(str(path))
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int | float):
                worksheet.write_number(r, c, value)
            else:
                worksheet.write_string(r, c, str(value))
    workbook.close()
    return path


def good_xlsx(work: Path, name: str = "budget_2024.xlsx", **edits: object) -> Path:
    """The good budget with cells changed, e.g. ``F3="12,345"`` (Excel address)."""
    rows = [list(HEADER), *[list(row) for row in GOOD_ROWS]]
    for address, value in edits.items():
        col, row = ord(address[0]) - ord("A"), int(address[1:]) - 1
        while len(rows) <= row:
            rows.append([])
        while len(rows[row]) <= col:
            rows[row].append(None)
        rows[row][col] = value
    return write_xlsx(work / name, rows)


def write_csv(
    path: Path, lines: list[str], encoding: str = "utf-8-sig", newline: str = "\r\n"
) -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def good_csv(work: Path, line: int | None = None, text: str | None = None) -> Path:
    """The good budget as a Windows-1252 CSV, line ``line`` (1-based) replaced by ``text``."""
    lines = list(CSV_LINES)
    if line is not None and text is not None:
        lines[line - 1] = text
    return write_csv(work / "budget_2024.csv", lines, "cp1252")


def errors_of(result: ReadResult) -> list[tuple[str, str]]:
    return [(error.place, error.rule) for error in result.errors]


def assert_rejected_with(result: ReadResult, *expected: tuple[str, str]) -> None:
    assert not result.ok and result.tables == {}
    assert errors_of(result) == list(expected)


# --------------------------------------------------------------------------------------------
# good files
# --------------------------------------------------------------------------------------------
def test_good_xlsx(tmp_path: Path):
    result = reader.read(good_xlsx(tmp_path))
    assert result.ok, result.errors
    assert list(result.tables) == ["budget_lines"]
    assert result.tables["budget_lines"].schema == reader.SCHEMA
    assert result.tables["budget_lines"].equals(EXPECTED)
    assert result.notes == []


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_good_csv(tmp_path: Path, encoding: str):
    path = write_csv(tmp_path / "budget_2024.csv", CSV_LINES, encoding)
    result = reader.read(path)
    assert result.ok, result.errors
    assert result.tables["budget_lines"].equals(EXPECTED)


def test_lenient_layout_and_numbers(tmp_path: Path):
    """Headers in other case with spaces, columns in another order, an extra column (noted),
    LF line ends, UTF-8 without BOM, a decimal point, integers written 1,0, a version suffix
    and an upper-case extension; rows below the first empty line are ignored (noted)."""
    lines = [
        " belopp ;KONTO;Kommentar;verksamhet; År ;månad;ansvar",
        "-159341000,00;3331;medlemsbidrag;990;2024;1,0;",
        "8250000.5;4660;;511;2024;1;2110",
        "",
        "1;4660;;511;2024;1;2110",
    ]
    path = write_csv(tmp_path / "budget_2024_v2.CSV", lines, "utf-8", newline="\n")
    result = reader.read(path)
    assert result.ok, result.errors
    expected = EXPECTED.head(2).with_columns(pl.lit(2, pl.Int32).alias("budget_version"))
    assert result.tables["budget_lines"].equals(expected)
    assert result.notes == [
        "1 extra column(s) in the table ignored",
        "1 non-empty row(s) below the table's first empty row ignored",
    ]


def test_a_table_header_without_any_known_column(tmp_path: Path):
    result = reader.read(write_csv(tmp_path / "budget_2024.csv", ["x;y", "1;2"], "cp1252"))
    assert [e.rule for e in result.errors] == [f"missing column {label}" for label in HEADER]


def test_empty_rows_above_the_header_are_skipped(tmp_path: Path):
    rows = [[], [], list(HEADER), *GOOD_ROWS[:2]]
    result = reader.read(write_xlsx(tmp_path / "budget_2024.xlsx", rows))
    assert result.ok, result.errors
    assert result.tables["budget_lines"]["source_row"].to_list() == [4, 5]


# --------------------------------------------------------------------------------------------
# rules: each broken once, with the exact place and rule
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edits", "place", "rule"),
    [
        ({"A3": None}, "sheet Budget, row 3, column A (År)", reader.RULE_EMPTY),
        ({"A3": "tjugo"}, "sheet Budget, row 3, column A (År)", reader.RULE_NOT_NUMBER),
        ({"A3": 2024.5}, "sheet Budget, row 3, column A (År)", reader.RULE_NOT_WHOLE),
        ({"A3": 2023}, "sheet Budget, row 3, column A (År)", reader.RULE_YEAR),
        ({"B4": 13}, "sheet Budget, row 4, column B (Månad)", reader.RULE_MONTH),
        ({"B4": 0}, "sheet Budget, row 4, column B (Månad)", reader.RULE_MONTH),
        ({"B4": "1,5"}, "sheet Budget, row 4, column B (Månad)", reader.RULE_NOT_WHOLE),
        ({"C2": None}, "sheet Budget, row 2, column C (Konto)", reader.RULE_EMPTY),
        ({"C2": "333"}, "sheet Budget, row 2, column C (Konto)", reader.RULE_ACCOUNT),
        ({"C2": 3331.5}, "sheet Budget, row 2, column C (Konto)", reader.RULE_ACCOUNT),
        ({"C2": "9999"}, "sheet Budget, row 2, column C (Konto)", reader.RULE_ACCOUNT_UNKNOWN),
        ({"E5": None}, "sheet Budget, row 5, column E (Verksamhet)", reader.RULE_EMPTY),
        (
            {"E5": "999"},
            "sheet Budget, row 5, column E (Verksamhet)",
            reader.RULE_ACTIVITY_UNKNOWN,
        ),
        ({"F6": None}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_EMPTY),
        ({"F6": "12 500"}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_NOT_NUMBER),
        ({"F6": "12,345"}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_DECIMALS),
        ({"F6": 159341666.671}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_DECIMALS),
        (
            {"F6": "10000000000000000"},
            "sheet Budget, row 6, column F (Belopp)",
            reader.RULE_OUT_OF_RANGE,
        ),
        ({"F6": 1e16}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_OUT_OF_RANGE),
        ({"F6": "1E+400"}, "sheet Budget, row 6, column F (Belopp)", reader.RULE_OUT_OF_RANGE),
        ({"A3": 1e30}, "sheet Budget, row 3, column A (År)", reader.RULE_TOO_LARGE),
    ],
)
def test_cell_rules_xlsx(tmp_path: Path, edits: dict[str, object], place: str, rule: str):
    assert_rejected_with(reader.read(good_xlsx(tmp_path, **edits)), (place, rule))


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [
        (100_000_000_000, True),
        ("-100000000000,00", True),
        (100_000_000_000.01, False),
        ("-100000000000,01", False),
    ],
)
def test_an_amount_is_bounded(tmp_path: Path, amount: object, accepted: bool):
    result = reader.read(good_xlsx(tmp_path, F6=amount))
    if accepted:
        assert abs(result.tables["budget_lines"]["amount"][4]) == Decimal("100000000000.00")
    else:
        assert [(e.place, e.rule, e.expected) for e in result.errors] == [
            (
                "sheet Budget, row 6, column F (Belopp)",
                "number outside the plausible range",
                "-100000000000 to 100000000000 SEK a budget line",
            )
        ]


def test_the_amounts_of_a_file_are_bounded_together(tmp_path: Path):
    def lines(count: int) -> list[list[object]]:
        return [[2024, 1 + i % 12, "4660", f"A{i}", "511", 10**11] for i in range(count)]

    assert reader.read(write_xlsx(tmp_path / "budget_2024.xlsx", [HEADER, *lines(100)])).ok
    path = write_xlsx(tmp_path / "budget_2024.xlsx", [HEADER, *lines(101)])
    assert [(e.place, e.rule, e.expected) for e in reader.read(path).errors] == [
        (
            "sheet Budget",
            "the amounts of the file add up to more than is plausible",
            "0 to 10000000000000 SEK, the sum of |Belopp| over all lines",
        )
    ]


def test_year_error_names_the_file_name_year(tmp_path: Path):
    [error] = reader.read(good_xlsx(tmp_path, A3=2023)).errors
    assert error.expected == "2024 (the file name's year)"


def test_cell_rules_csv(tmp_path: Path):
    """The same rules in a CSV name the line and the field number."""
    path = good_csv(tmp_path, 3, "2024;1,5;466;2110;511;8250000,505;;")
    assert_rejected_with(
        reader.read(path),
        ("line 3, column 2 (Månad)", reader.RULE_NOT_WHOLE),
        ("line 3, column 3 (Konto)", reader.RULE_ACCOUNT),
        ("line 3, column 6 (Belopp)", reader.RULE_DECIMALS),
    )


def test_duplicate_key_names_the_earlier_row(tmp_path: Path):
    """Same År, Månad, Konto, Ansvar (empty counts as one value) and Verksamhet."""
    result = reader.read(good_xlsx(tmp_path, A7=2024, B7=1, C7="3331", E7="990", F7=1))
    assert_rejected_with(result, ("sheet Budget, row 7", reader.RULE_DUPLICATE))
    assert result.errors[0].expected == "each line once (the same line is at row 2)"
    # Another responsibility makes another key.
    assert reader.read(good_xlsx(tmp_path, A7=2024, B7=1, C7="3331", D7="X", E7="990", F7=1)).ok

    path = good_csv(tmp_path, 7, "2024;2;4660;2110;511;1")
    result = reader.read(path)
    assert_rejected_with(result, ("line 7", reader.RULE_DUPLICATE))
    assert result.errors[0].expected == "each line once (the same line is at line 4)"


def test_missing_and_repeated_columns(tmp_path: Path):
    rows = [
        ["År", "Månad", "Konto", "Ansvar", "Belopp", "konto"],
        *[r[:4] + r[5:] for r in GOOD_ROWS],
    ]
    assert_rejected_with(
        reader.read(write_xlsx(tmp_path / "budget_2024.xlsx", rows)),
        ("sheet Budget, row 1, column F (Konto)", "column appears twice in the table header"),
        ("sheet Budget, row 1 (table header)", "missing column Verksamhet"),
    )


def test_no_budget_lines(tmp_path: Path):
    assert_rejected_with(
        reader.read(write_xlsx(tmp_path / "budget_2024.xlsx", [HEADER])),
        ("sheet Budget, row 1 (table header)", "no budget lines under the table header"),
    )


@pytest.mark.parametrize(
    "name", ["budget2024.xlsx", "Budget_2024.xlsx", "budget_24.xlsx", "budget_2024_v1.xlsx"]
)
def test_file_name(tmp_path: Path, name: str):
    assert_rejected_with(
        reader.read(good_xlsx(tmp_path, name=name)),
        ("file name", "file name does not follow the naming rule"),
    )


def test_no_sheet_named_budget(tmp_path: Path):
    rows = [HEADER, *GOOD_ROWS]
    path = write_xlsx(tmp_path / "budget_2024.xlsx", rows, sheet="Blad1")
    assert_rejected_with(reader.read(path), ("file", "no sheet named Budget"))


def test_csv_encoding_and_separator(tmp_path: Path):
    path = tmp_path / "budget_2024.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(CSV_LINES).encode("utf-8") + b"\x81\r\n")
    assert_rejected_with(
        reader.read(path),
        ("line 7", "mixed encodings in one file: line 1 is UTF-8, this line is not"),
    )
    path.write_bytes(b"\xef\xbb\xbfKonto;Belopp\r\n4660;\x81\r\n")
    assert_rejected_with(
        reader.read(path),
        ("line 2", "the file starts with a UTF-8 byte order mark but is not valid UTF-8"),
    )
    write_csv(path, [line.replace(";", ",") for line in CSV_LINES])
    assert_rejected_with(reader.read(path), ("line 1", "fields are not separated by ';'"))


def test_errors_are_capped_per_rule(tmp_path: Path):
    count = MAX_ERRORS_PER_RULE + 5
    lines = [CSV_LINES[0], *[f"2024;{m};4660;;511;1,001" for m in range(1, count + 1)]]
    result = reader.read(write_csv(tmp_path / "budget_2024.csv", lines))
    # Month 13 and later are also out of range: 12 errors of that rule.
    decimals = [e for e in result.errors if e.rule.startswith(reader.RULE_DECIMALS)]
    assert len(decimals) == MAX_ERRORS_PER_RULE + 1
    assert decimals[0].place == "line 2, column 6 (Belopp)"
    assert decimals[-1].place == "file"
    assert decimals[-1].rule == f"{reader.RULE_DECIMALS} — 5 more not listed"


# --------------------------------------------------------------------------------------------
# personal identity numbers
# --------------------------------------------------------------------------------------------
def test_personnummer_xlsx(tmp_path: Path):
    """In Ansvar and in an extra column: named by cell, never echoed, marked personal data."""
    path = good_xlsx(tmp_path, G1="Kommentar", D3=PNR, G5=f"gäller {PNR.replace('-', '')}")
    result = reader.read(path)
    assert_rejected_with(
        result,
        ("sheet Budget, row 3, column D (Ansvar)", RULE_PERSONNUMMER),
        ("sheet Budget, row 5, column G", RULE_PERSONNUMMER),
    )
    assert all(error.personal_data for error in result.errors)
    text = " ".join(str(error) for error in result.errors) + " ".join(result.notes)
    assert PNR not in text and PNR.replace("-", "") not in text and "1212" not in text


def test_personnummer_csv_in_a_required_column(tmp_path: Path):
    """A masked cell gives the personal-data error only, not also 'empty cell'."""
    result = reader.read(good_csv(tmp_path, 4, f"2024;2;4660;2110;511;{PNR};;"))
    assert_rejected_with(result, ("line 4, column 6 (Belopp)", RULE_PERSONNUMMER))
    assert result.errors[0].personal_data
    assert PNR not in str(result.errors[0])


def workbook_with(path: Path, build: Callable[[xlsxwriter.Workbook], None]) -> Path:
    """The good budget on sheet Budget, then ``build`` adds to the workbook."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Budget")
    for r, row in enumerate([HEADER, *GOOD_ROWS]):
        for c, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
    build(workbook)
    workbook.close()
    return path


def rewritten(path: Path, part: str, edit: Callable[[str], str]) -> Path:
    """``path`` with the zip part ``part`` edited as text."""
    copy = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as origin, zipfile.ZipFile(copy, "w") as target:
        for item in origin.infolist():
            data = origin.read(item.filename)
            if item.filename == part:
                data = edit(data.decode("utf-8")).encode("utf-8")
            target.writestr(item, data)
    return copy.replace(path)


def assert_nothing_echoed(result: ReadResult, *numbers: str) -> None:
    assert result.errors and all(error.personal_data for error in result.errors)
    text = " ".join(str(error) for error in result.errors) + " ".join(result.notes)
    for number in numbers:
        assert number not in text and number.replace("-", "") not in text
    assert "1212" not in text


# A samordningsnummer (day of birth + 60) with a valid check digit.
SAMORDNINGSNUMMER = f"121272-121{luhn.calc_check_digit('121272121')}"


def test_personnummer_in_every_part_of_a_workbook(tmp_path: Path):
    """Other sheets (every form, a number cell, a run of rich text), a sheet name, a comment, a
    page header, the document properties and a shared string no cell shows: each is named by
    its place, none is echoed, and the file counts as scanned."""

    def build(workbook: xlsxwriter.Workbook) -> None:
        data = workbook.add_worksheet("Data")
        data.write_string("B2", "kund 121212 1212")
        data.write_string("C3", "kund 19121212\u20131212")
        data.write_string("D4", "121212\u20141212")
        data.write_string("E5", "121212+1212")
        data.write_number("A6", 1212121212)
        data.write_string("B7", f"samordningsnummer {SAMORDNINGSNUMMER}")
        data.write_rich_string("A8", "1212", workbook.add_format({"bold": True}), "12-1212")
        data.write_string("A9", "org nr 556728-9045, 2024-01-31")  # not a personnummer
        data.set_header("&Ckund 121212-1212")
        workbook.add_worksheet("121212-1212")
        workbook.worksheets()[0].write_comment("G2", "ring 121212-1212")
        workbook.set_properties({"title": "Budget för 1212121212"})

    path = workbook_with(tmp_path / "budget_2024.xlsx", build)
    rewritten(
        path,
        "xl/sharedStrings.xml",
        lambda xml: xml.replace("</sst>", "<si><t>unused 121212-1212</t></si></sst>"),
    )
    result = reader.read(path)
    assert_rejected_with(
        result,
        *[
            (f"sheet Data, row {row}, column {col}", RULE_PERSONNUMMER)
            for row, col in [(2, "B"), (3, "C"), (4, "D"), (5, "E"), (6, "A"), (7, "B"), (8, "A")]
        ],
        ("the name of sheet 3", RULE_PERSONNUMMER),
        ("sheet Data, page header or footer", RULE_PERSONNUMMER),
        ("the workbook's shared strings, entry 23", RULE_PERSONNUMMER),
        ("sheet Budget, comment on cell G2", RULE_PERSONNUMMER),
        ("part docProps/core.xml", RULE_PERSONNUMMER),
        ("part docProps/app.xml", RULE_PERSONNUMMER),  # it lists the sheet names
    )
    assert result.scanned
    assert_nothing_echoed(result, PNR, SAMORDNINGSNUMMER)


def test_personnummer_in_a_formula_and_in_a_cell_beside_the_table(tmp_path: Path):
    def build(workbook: xlsxwriter.Workbook) -> None:
        budget = workbook.worksheets()[0]
        budget.write_formula("H2", '=IF(A2=1,"121212-1212","")', None, "")
        budget.write_string("A9", "121212-1212")  # below the table

    result = reader.read(workbook_with(tmp_path / "budget_2024.xlsx", build))
    assert_rejected_with(
        result,
        ("sheet Budget, row 2, column H", RULE_PERSONNUMMER),
        ("sheet Budget, row 9, column A", RULE_PERSONNUMMER),
    )
    assert_nothing_echoed(result, PNR)


def test_personnummer_whose_leading_zero_was_dropped(tmp_path: Path):
    """050101-1233 as a number cell is 501011233: rejected in a code column, never echoed;
    an amount (Belopp) may have 9 digits, so there it is an amount."""
    digits = "501011233"
    result = reader.read(good_xlsx(tmp_path, C3=int(digits), E4=f"{digits}.0"))
    assert_rejected_with(
        result,
        ("sheet Budget, row 3, column C (Konto)", RULE_WITHOUT_ZERO),
        ("sheet Budget, row 4, column E (Verksamhet)", RULE_WITHOUT_ZERO),
    )
    assert_nothing_echoed(result, digits)
    assert digits not in str(result.errors)
    assert reader.read(good_xlsx(tmp_path, F3=int(digits))).ok


def test_scanned_only_when_every_text_was_read(tmp_path: Path):
    assert reader.read(good_xlsx(tmp_path)).scanned
    assert reader.read(good_csv(tmp_path)).scanned
    # Rejected for its structure, but every text was scanned.
    assert reader.read(good_xlsx(tmp_path, A1="Året")).scanned
    no_sheet = reader.read(write_xlsx(tmp_path / "budget_2024.xlsx", [HEADER], sheet="Blad1"))
    assert errors_of(no_sheet) == [("file", "no sheet named Budget")] and no_sheet.scanned
    # Not a workbook, not text: nothing could be scanned.
    (tmp_path / "budget_2024.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    broken = reader.read(tmp_path / "budget_2024.xlsx")
    assert errors_of(broken) == [("file", "not a readable .xlsx workbook")]
    assert not broken.scanned
    nul = write_csv(tmp_path / "budget_2024.csv", CSV_LINES, "utf-16-le")
    result = reader.read(nul)
    assert errors_of(result) == [
        ("line 1", "NUL byte: not a text file (or UTF-16 without a byte order mark)")
    ]
    assert not result.scanned


def test_personnummer_in_a_csv_that_breaks_the_encoding_rule(tmp_path: Path):
    """A mixed-encoding file says so, and is still scanned line by line (each line in its
    own encoding, so a Windows-1252 en dash is one)."""
    path = tmp_path / "budget_2024.csv"
    head = "\r\n".join(CSV_LINES[:3]).encode("utf-8")
    tail = "\r\n2024;5;4660;kund 121212\u20131212;511;1;;\r\nÖvrigt;;;;;;;\r\n".encode("cp1252")
    path.write_bytes(head + tail)
    result = reader.read(path)
    assert errors_of(result) == [
        ("line 4", "mixed encodings in one file: line 1 is UTF-8, this line is not"),
        ("line 4", RULE_PERSONNUMMER),
    ]
    assert result.errors[0].expected.startswith("one encoding for the whole file")
    assert result.scanned and result.errors[1].personal_data
    assert "1212" not in str(result.errors)


# --------------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------------
def test_text_that_a_spreadsheet_would_run_as_a_formula(tmp_path: Path):
    """=, + and @ at the start of a text cell; a negative amount and a text that starts with
    '-' are fine."""
    path = good_xlsx(tmp_path, D2="@SUM(1)", D3=" +SUM(1)", F4="=1+1", D5="-", G3="=HYPERLINK()")
    result = reader.read(path)
    assert_rejected_with(
        result,
        ("sheet Budget, row 2, column D (Ansvar)", FORMULA_RULE),
        ("sheet Budget, row 3, column D (Ansvar)", FORMULA_RULE),
        ("sheet Budget, row 4, column F (Belopp)", FORMULA_RULE),
    )
    assert result.errors[0].expected == FORMULA_EXPECTED
    assert reader.read(good_xlsx(tmp_path, D5="- ingen -", F3=-12.5, F4="+12,50")).ok
    csv = good_csv(tmp_path, 3, "2024;1;4660;=cmd|' /C calc'!A0;511;8250000,50;;")
    assert_rejected_with(reader.read(csv), ("line 3, column 4 (Ansvar)", FORMULA_RULE))


def test_a_formula_whose_value_was_not_saved(tmp_path: Path):
    """A program that does not calculate formulas wrote the file: xlsxwriter saves 0 and asks
    Excel to recalculate; without the request, a formula with no value saved at all."""

    def build(workbook: xlsxwriter.Workbook) -> None:
        workbook.worksheets()[0].write_formula("F3", "=8250000+0.5")

    path = workbook_with(tmp_path / "budget_2024.xlsx", build)
    expected = [("sheet Budget, row 3, column F (Belopp)", RULE_UNSAVED_FORMULA)]
    result = reader.read(path)
    assert errors_of(result) == expected
    assert "open the file in Excel and save it" in result.errors[0].expected
    rewritten(path, "xl/workbook.xml", lambda xml: xml.replace(' fullCalcOnLoad="1"', ""))
    assert reader.read(path).ok  # the 0 is taken as the value saved
    rewritten(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("</f><v>0</v>", "</f>"))
    assert errors_of(reader.read(path)) == expected


# --------------------------------------------------------------------------------------------
# accepts, registry
# --------------------------------------------------------------------------------------------
def test_accepts_and_registry(tmp_path: Path):
    xlsx = good_xlsx(tmp_path)
    csv = good_csv(tmp_path)
    other = write_csv(tmp_path / "plan.csv", CSV_LINES, "cp1252")
    assert reader.accepts(xlsx) and reader.accepts(csv) and reader.accepts(other)
    assert not reader.accepts(write_csv(tmp_path / "x.csv", ["a;b", "1;2"]))
    assert not reader.accepts(tmp_path / "budget_2024.json")
    assert family_for(xlsx).name == family_for(csv).name == family_for(other).name == "budget"
    names = list(FAMILIES)  # guessed by content before the providers' any-.xlsx reader
    assert names.index("budget") == names.index("provider_reports") - 1
    assert FAMILIES["budget"].tables == {"budget_lines": reader.SCHEMA}
    landing = tmp_path / "landing"
    (landing / "budget").mkdir(parents=True)
    for name in ("budget_2024.xlsx", "budget_2025.XLSX", "budget_2026.Csv", "notes.txt"):
        (landing / "budget" / name).write_bytes(b"")
    found = [p.name for p in FAMILIES["budget"].landing_files(landing)]
    assert found == ["budget_2024.xlsx", "budget_2025.XLSX", "budget_2026.Csv"]


def test_loaded_into_raw_and_staged(tmp_path: Path):
    """Landing → raw.budget_lines with the declared columns; the staging model's SQL runs on
    it; a file with a personal identity number is quarantined without its copy."""
    repo = Path(__file__).resolve().parents[1]
    store = FileStore(tmp_path / "landing", tmp_path / "archive", tmp_path / "quarantine")
    folder = store.landing_dir / "budget"
    folder.mkdir(parents=True)
    good_xlsx(folder)
    good_xlsx(folder, name="budget_2024_v2.xlsx", D3=PNR)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        outcome = load_family(con, FAMILIES["budget"], store)
        assert outcome.accepted == [("budget/budget_2024.xlsx", 5)]
        assert [path for path, _ in outcome.quarantined] == ["budget/budget_2024_v2.xlsx"]
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'budget_lines' ORDER BY ordinal_position"
        ).fetchall()
        assert columns == [
            ("file_id", "BIGINT"),
            ("year", "INTEGER"),
            ("month", "INTEGER"),
            ("account", "VARCHAR"),
            ("responsibility", "VARCHAR"),
            ("activity", "VARCHAR"),
            ("amount", "DECIMAL(18,2)"),
            ("source_row", "INTEGER"),
            ("budget_version", "INTEGER"),
        ]
        model = repo / "dbt_project" / "models" / "staging" / "budget" / "stg_budget__lines.sql"
        sql = model.read_text().replace("{{ raw_source('budget_lines') }}", "raw.budget_lines")
        staged = con.sql(sql).pl()
    assert staged.columns == [
        "file_id",
        "year",
        "month",
        "account",
        "responsibility",
        "activity_code",
        "amount",
        "source_row",
        "budget_version",
    ]
    assert staged.drop("file_id").rename({"activity_code": "activity"}).equals(EXPECTED)
    assert list((store.quarantine_dir / "budget").glob("*.xlsx")) == []


# --------------------------------------------------------------------------------------------
# the sample budget file
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_2024(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ledgers_2024")
    summary = generate(out, scale=0.01, years=(2024,))
    assert str(out / "budget" / "budget_2024.xlsx") in summary["files"]
    return out


def test_sample_budget_equals_the_sie_pbudget(sample_2024: Path):
    result = reader.read(sample_2024 / "budget" / "budget_2024.xlsx")
    assert result.ok, result.errors[:5]
    lines = result.tables["budget_lines"]
    assert lines["responsibility"].null_count() == lines.height
    assert (lines["year"] == 2024).all()

    balances = sie.read(sample_2024 / "sie" / "kson_2024.se").tables["sie_balances"]
    pbudget = balances.filter(pl.col("kind") == "PBUDGET", pl.col("year_index") == 0)
    assert pbudget.height == lines.height > 0
    per_account = lines.group_by("account").agg(pl.col("amount").sum()).sort("account")
    expected = pbudget.group_by("account").agg(pl.col("amount").sum()).sort("account")
    assert per_account.equals(expected)
    # Line by line: month, account, activity and amount are the #PBUDGET's.
    from_file = lines.select(
        pl.format("{}{}", "year", pl.col("month").cast(pl.String).str.zfill(2)).alias("period"),
        "account",
        "activity",
        "amount",
    ).sort(pl.all())
    from_sie = pbudget.select(
        "period",
        "account",
        pl.col("objects")
        .list.eval(pl.element().filter(pl.element().struct.field("dimension") == 2))
        .list.first()
        .struct.field("object")
        .alias("activity"),
        "amount",
    ).sort(pl.all())
    assert from_file.equals(from_sie)


def test_sample_budget_only_for_2024(tmp_path: Path):
    summary = generate(tmp_path, scale=0.01, years=(2021,))
    assert not any("budget" in Path(f).parts for f in summary["files"])
    assert not (tmp_path / "budget").exists()
