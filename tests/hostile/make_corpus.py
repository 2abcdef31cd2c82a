"""The hostile-file corpus: broken, messy and malicious files of every source family, each
with its expected outcome in ``expected.csv`` beside this module (family, file, outcome, rule,
pending), which ``tests/hostile/test_corpus.py`` reads.

    python -m hostile.make_corpus OUT      (from tests/; deterministic)

Every file is built here from a small valid file of its family (the templates below), then
broken in one way. A file lands at ``OUT/<family>/0_hostile/<file>``: the folder ``0_hostile``
sorts before the bundled sample's paths, so in a landing folder beside the sample every
corpus file gets a lower ``file_id`` and the sample's files stay the current versions.
Outcomes: ``accepted``; ``rejected`` with an error whose rule contains ``rule`` (``{NAME}``
stands for a constant of ``ingest.pii`` or ``ingest.validation``); ``masked`` (SIE: accepted,
personal identity numbers masked); ``copy`` (byte-identical to an earlier corpus file: valid,
and "already loaded" in a run); ``unclaimed`` (no family takes it). ``pending`` says which part
of issue 10 the outcome waits for.

Each personal identity number planted is another one (:func:`planted`), so that a leak names
its file; :func:`leaks` finds one in any form (10 or 12 digits, any separator, its leading zero
dropped).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import xlsxwriter
from stdnum import luhn

EXPECTED = Path(__file__).with_name("expected.csv")
CORPUS_FOLDER = "0_hostile"
OUTCOMES = ("accepted", "rejected", "masked", "copy", "unclaimed")


# --------------------------------------------------------------------------------------------
# personal identity numbers to plant
# --------------------------------------------------------------------------------------------
class Planted:
    """Hands out a new valid personal identity number per call, remembering them per file."""

    def __init__(self) -> None:
        self.count = 0
        self.numbers: list[str] = []  # 10-digit cores: YYMMDDNNNC

    def core(self, born: date, coordination: bool = False) -> str:
        self.count += 1
        day = born.day + 60 if coordination else born.day
        head = f"{born:%y%m}{day:02d}{100 + self.count * 7 % 900:03d}"
        number = head + luhn.calc_check_digit(head)
        self.numbers.append(number)
        return number

    def new(self, form: str = "-") -> str:
        """A personnummer written in ``form``: a separator (``-``, ``+``, space, en or em
        dash), ``""`` for none, ``"12"`` / ``"12-"`` for 12 digits without / with ``-``,
        ``"sam"`` for a samordningsnummer, ``"no zero"`` for one whose leading zero was
        dropped (a 9-digit number)."""
        if form == "no zero":
            return self.core(date(2003, 1, 1) + timedelta(days=11 * self.count))[1:]
        born = date(1950, 1, 1) + timedelta(days=97 * self.count)
        core = self.core(born, coordination=form == "sam")
        if form in ("12", "12-"):
            return f"{born:%Y}{core[2:6]}{form[2:]}{core[6:]}"
        return f"{core[:6]}{'-' if form == 'sam' else form}{core[6:]}"


_SEPARATORS = rb"(?:-|\+| |\xe2\x80\x93|\xe2\x80\x94|\x96|\x97|\x00)?"


def leaks(data: bytes, numbers: list[str]) -> list[str]:
    """The planted ``numbers`` (10-digit cores) found in ``data`` in any form: with or without
    century and separator (UTF-8, cp1252), or without the leading zero. Zip files (xlsx) are
    searched member by member."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = b"".join(archive.read(name) for name in archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError):
            pass
    found = []
    for core in numbers:
        head = core[1:6] if core.startswith("0") else core[:6]
        if re.search(head.encode() + _SEPARATORS + core[6:].encode(), data):
            found.append(core)
    return found


# --------------------------------------------------------------------------------------------
# valid templates
# --------------------------------------------------------------------------------------------
OMSORG = ("556728-9045", "Omsorg i Norrtälje AB")  # home care (HTJ) in 2023
TIOHUNDRA = "556796-6857"
REPORT_NAME = "5567289045_HTJ_2023-03"  # the sample has this report as v1 and v2
REPORT_COLUMNS = (
    "Enhets-id",
    "Enhetsnamn",
    "Antal brukare",
    "Beviljade timmar",
    "Utförda timmar",
    "Brukare med aktuell genomförandeplan",
    "Personalkontinuitet",
    "Avvikelser fall",
    "Avvikelser läkemedel",
    "Avvikelser övriga",
    "Ej verkställda beslut",
)


def report_rows() -> list[list[object]]:
    """A home-care report of two units: header block, blank row, table (row 1 first)."""
    return [
        ["Organisationsnummer", OMSORG[0]],
        ["Vårdgivare", OMSORG[1]],
        ["Avtalsområde", "HTJ"],
        ["Period", "2023-03"],
        [],
        list(REPORT_COLUMNS),
        ["E10009", "Hemtjänstgrupp Norr", 5, 226.34, 172.22, 5, 5.8, 1, 0, 0, 0],
        ["E10010", "Hemtjänstgrupp Syd", 7, 507.83, 387.92, 6, 5.6, 0, 0, 0, 0],
    ]


def xlsx_bytes(
    rows: list[list[object]],
    sheet: str = "Rapport",
    extra_sheet: list[list[object]] | None = None,
    comment: tuple[int, int, str] | None = None,
) -> bytes:
    """Rows on a sheet: numbers → number cells, text → text cells (a text starting with ``=``
    is written as text, never as a formula), None → nothing."""
    buffer = io.BytesIO()
    # NaN and infinities (which the fuzzer draws) become Excel's #NUM! and #DIV/0! cells.
    options = {"in_memory": True, "strings_to_formulas": False, "nan_inf_to_errors": True}
    workbook = xlsxwriter.Workbook(buffer, options)
    workbook.set_properties({"created": datetime(2024, 1, 1)})  # not now: deterministic bytes
    sheets = [(sheet, rows)] + ([("Anteckningar", extra_sheet)] if extra_sheet else [])
    for name, content in sheets:
        worksheet = workbook.add_worksheet(name)
        for r, row in enumerate(content):
            for c, value in enumerate(row):
                if isinstance(value, int | float):
                    worksheet.write_number(r, c, value)
                elif value is not None:
                    worksheet.write_string(r, c, str(value))
        if comment and name == sheet:
            worksheet.write_comment(comment[0], comment[1], comment[2])
    workbook.close()
    return buffer.getvalue()


def swedish_csv(rows: list[list[object]], encoding: str = "cp1252", sep: str = ";") -> bytes:
    """Rows as Swedish Excel exports them: ``;``, decimal comma, CRLF."""

    def field(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.2f}".replace(".", ",")
        text = str(value)
        return (
            f'"{text.replace(chr(34), 2 * chr(34))}"' if any(c in text for c in ';"\r\n') else text
        )

    text = "".join(sep.join(field(v) for v in row) + "\r\n" for row in rows)
    return text.encode(encoding)


BUDGET_ROWS: list[list[object]] = [
    ["År", "Månad", "Konto", "Ansvar", "Verksamhet", "Belopp"],
    [2024, 1, "3331", None, "990", -159341000],
    [2024, 1, "4660", "2110", "511", 8250000.5],
    [2024, 2, "4660", "2110", "511", -1250.75],
]

MANUAL_ROWS: list[list[object]] = [
    ["Indikator-id", "År", "Värde", "Kommentar", "Rapporterande enhet"],
    ["I02", 2023, 6.7, "Utskrivna 80 år och äldre", "Norrtälje sjukhus"],
    ["I12", 2023, 15000, None, "Primärvården"],
]
MANUAL_NAME = "manual_indicators_2023"

VISIT_HEADER = (
    "visit_id,provider_org_nr,unit_id,user_key,staff_key,planned_start,planned_minutes,"
    "actual_start,actual_end,service_type"
)


def visit_lines() -> list[str]:
    return [
        VISIT_HEADER,
        f"V2024-00000001,{TIOHUNDRA},E10000,U0123456789ab,S0123456ab,2024-02-01T08:00:00,30,"
        "2024-02-01T08:02:00,2024-02-01T08:31:00,tillsyn",
        f"V2024-00000002,{TIOHUNDRA},E10000,U0123456789ab,S0123456ac,2024-02-02T08:00:00,45,"
        "2024-02-02T08:00:00,2024-02-02T08:44:00,personlig omvårdnad",
    ]


VOLUME_LINES = [
    "year,month,provider_org_nr,service,visits,performed_hours",
    f"2024,1,{OMSORG[0]},hemsjukvard,8,5.40",
    f"2024,1,{OMSORG[0]},hemrehab,2,1.51",
]


def followup_lines() -> list[str]:
    """2023: every contract area in force assessed (the contract's rule), Omsorg i Norrtälje
    second in home care (HTJ, line 3)."""
    from ingest import reference

    areas = sorted(
        code for code in reference.known_area_codes() if reference.area_in_force(code, 2023)
    )
    rows = [f"2023,{code},{TIOHUNDRA},godkänd,,false" for code in areas]
    rows.insert(areas.index("HTJ") + 1, f"2023,HTJ,{OMSORG[0]},godkänd,,false")
    return ["contract_year,area_code,provider_org_nr,assessment,remark,hsl_deep_followup", *rows]


PLAN_LINES = [
    "plan_id,contract_year,area_code,provider_org_nr,created,status,status_date,comment",
    "AP2023-001,2023,HTJ,556777-6397,2024-09-11,upprättad,2024-09-11,Åtgärdsplan upprättad",
    "AP2023-001,2023,HTJ,556777-6397,2024-09-11,genomförd,2024-10-30,Åtgärder genomförda",
]


def kolada_document() -> dict:
    """A survey share of Norrtälje, not seed 004's (the sample's later file holds the same
    key and wins)."""
    return {
        "values": [
            {
                "kpi": "U21468",
                "period": 2022,
                "municipality": "0188",
                "values": [{"gender": "T", "count": 1, "status": "", "value": 55.0}],
            }
        ]
    }


SIE_HEAD = """#FLAGGA 0
#PROGRAM "KSON exempeldata" 1.0
#FORMAT PC8
#GEN 20240215
#SIETYP 4
#FNAMN "Kommunalförbundet Sjukvård och omsorg i Norrtälje"
#ORGNR 222000-2584
#RAR 0 20230101 20231231
#KONTO 1930 "Bank"
#KONTO 2440 "Leverantörsskulder"
#KONTO 4660 "Köp av huvudverksamhet"
#IB 0 1930 1000.00
#UB 0 1930 900.00
"""
SIE_VOUCHER = """#VER A 1 20230131 "Januari" 20230201
{
#TRANS 4660 {} 100.00 20230131 "Faktura 1001"
#TRANS 1930 {} -100.00
}
"""


def sie_bytes(text: str, encoding: str = "cp437") -> bytes:
    return text.encode(encoding)


# --------------------------------------------------------------------------------------------
# the cases: one builder per file of expected.csv
# --------------------------------------------------------------------------------------------
Builder = Callable[[Planted], bytes]
BUILDERS: dict[str, Builder] = {}


def case(*files: str) -> Callable[[Builder], Builder]:
    """Register a builder for the corpus files ``<family>/<name>`` (one or more)."""

    def register(builder: Builder) -> Builder:
        for file in files:
            BUILDERS[file] = builder
        return builder

    return register


def _edited_report(edit: Callable[[list[list[object]]], None]) -> list[list[object]]:
    rows = report_rows()
    edit(rows)
    return rows


def _set(row: int, col: int, value: object) -> Callable[[list[list[object]]], None]:
    def edit(rows: list[list[object]]) -> None:
        rows[row][col] = value

    return edit


def _random(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _good_xlsx(_: Planted) -> bytes:
    return xlsx_bytes(report_rows())


def _good_csv(_: Planted) -> bytes:
    return swedish_csv(report_rows())


# --- provider reports: accepted -------------------------------------------------------------
@case(
    f"provider_reports/ok/{REPORT_NAME}.xlsx",
    f"provider_reports/resent/{REPORT_NAME}.xlsx",  # byte-identical: already loaded
)
def good_report_xlsx(planted: Planted) -> bytes:
    return _good_xlsx(planted)


@case(f"provider_reports/ok/{REPORT_NAME}.csv")
def good_report_csv(planted: Planted) -> bytes:
    return _good_csv(planted)


@case(f"provider_reports/v2/{REPORT_NAME}_v2.xlsx")
def second_version(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 2, 6)))


@case(f"provider_reports/upper_case/{REPORT_NAME.upper()}.XLSX")
def upper_case_extension(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 5, 4)))


@case(f"provider_reports/headers_padded_upper/{REPORT_NAME}.csv")
def headers_padded_upper(_: Planted) -> bytes:
    rows = report_rows()
    rows[5] = [f"  {label.upper()} " for label in rows[5]]
    rows[1][0] = " VÅRDGIVARE "
    return swedish_csv(rows)


@case(f"provider_reports/utf8_bom/{REPORT_NAME}.csv")
def report_utf8_bom(_: Planted) -> bytes:
    return swedish_csv(report_rows(), "utf-8-sig")


@case(f"provider_reports/decimal_point/{REPORT_NAME}.csv")
def report_decimal_point(_: Planted) -> bytes:
    return swedish_csv(report_rows()).replace(b"226,34", b"226.34")


@case(f"provider_reports/leading_dash_and_tab/{REPORT_NAME}.xlsx")
def leading_dash_and_tab(_: Planted) -> bytes:
    rows = report_rows()
    rows[6][1], rows[7][1] = "- Hemtjänstgrupp Norr", "\tHemtjänstgrupp Syd"
    return xlsx_bytes(rows)


# --- provider reports: broken files ---------------------------------------------------------
@case(
    f"provider_reports/zero_byte/{REPORT_NAME}.xlsx",
    f"provider_reports/zero_byte/{REPORT_NAME}.csv",
)
def zero_byte(_: Planted) -> bytes:
    return b""


@case(f"provider_reports/truncated/{REPORT_NAME}.xlsx")
def truncated_xlsx(planted: Planted) -> bytes:
    data = _good_xlsx(planted)
    return data[: len(data) // 2]


@case(f"provider_reports/truncated/{REPORT_NAME}.csv")
def truncated_report_csv(planted: Planted) -> bytes:
    data = _good_csv(planted)
    return data[: data.index(b"Hemtj\xe4nstgrupp Syd") + 5]


@case(f"provider_reports/random_bytes/{REPORT_NAME}.xlsx")
def random_xlsx(_: Planted) -> bytes:
    return b"PK\x03\x04" + _random(4000, 1)


@case(f"provider_reports/random_bytes/{REPORT_NAME}.csv")
def random_report_csv(_: Planted) -> bytes:
    return _random(3000, 2)


@case(f"provider_reports/utf16/{REPORT_NAME}.csv")
def report_utf16(_: Planted) -> bytes:
    return swedish_csv(report_rows(), "utf-16")


@case(f"provider_reports/mixed_encoding/{REPORT_NAME}.csv")
def report_mixed_encoding(_: Planted) -> bytes:
    rows = report_rows()
    return swedish_csv(rows[:5], "utf-8") + swedish_csv(rows[5:], "cp1252")


@case(f"provider_reports/comma_separated/{REPORT_NAME}.csv")
def report_comma_separated(_: Planted) -> bytes:
    rows = [[f"{v:.2f}" if isinstance(v, float) else v for v in row] for row in report_rows()]
    return swedish_csv(rows, sep=",")


@case(f"provider_reports/duplicated_row/{REPORT_NAME}.csv")
def report_duplicated_row(_: Planted) -> bytes:
    rows = report_rows()
    return swedish_csv([*rows, rows[6]])


@case(f"provider_reports/missing_column/{REPORT_NAME}.csv")
def report_missing_column(_: Planted) -> bytes:
    return swedish_csv([row[:4] + row[5:] if len(row) > 5 else row for row in report_rows()])


@case(f"provider_reports/one_mb_cell/{REPORT_NAME}.xlsx")
def report_one_mb_cell(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 1, "Hemtjänst " * 100_000)))


@case(f"provider_reports/formula_without_value/{REPORT_NAME}.xlsx")
def report_formula_without_value(_: Planted) -> bytes:
    """A number cell holding a formula Excel never calculated: no cached value."""
    data = xlsx_bytes(_edited_report(_set(6, 2, "@placeholder@")))
    with zipfile.ZipFile(io.BytesIO(data)) as origin:
        items = [(item, origin.read(item.filename)) for item in origin.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as copy:
        for item, content in items:
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(
                    rb'<c r="C7"[^>]*>.*?</c>', b'<c r="C7"><f>SUM(A1:A2)</f></c>', content
                )
            copy.writestr(item, content)
    return buffer.getvalue()


@case(f"provider_reports/negative_users/{REPORT_NAME}.csv")
def report_negative(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(6, 2, -5)))


@case(f"provider_reports/absurd_hours/{REPORT_NAME}.xlsx")
def report_absurd(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 3, 1e12)))


@case(f"provider_reports/nan/{REPORT_NAME}.csv")
def report_nan(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(6, 3, "NaN")))


@case("provider_reports/unknown_area/5567289045_XYZ_2023-03.csv")
def report_unknown_area(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(2, 1, "XYZ")))


@case("provider_reports/bad_check_digit/5567289046_HTJ_2023-03.csv")
def report_bad_check_digit(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(0, 1, "556728-9046")))


@case(f"provider_reports/odd_name/{REPORT_NAME} (1).xlsx")
def report_odd_name(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 5, 3)))


@case("provider_reports/impossible_period/5567289045_HTJ_2023-13.csv")
def report_month_13(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(3, 1, "2023-13")))


# --- provider reports: personal identity numbers --------------------------------------------
def _unit_name_with(form: str) -> Builder:
    def build(planted: Planted) -> bytes:
        return xlsx_bytes(_edited_report(_set(6, 1, f"Hemtjänst (kund {planted.new(form)})")))

    return build


for _form, _label in (
    (" ", "space"),
    ("\u2013", "en_dash"),
    ("\u2014", "em_dash"),
    ("+", "plus"),
    ("", "no_separator"),
    ("12", "twelve_digits"),
    ("sam", "samordningsnummer"),
):
    case(f"provider_reports/pnr_{_label}/{REPORT_NAME}.xlsx")(_unit_name_with(_form))


@case(f"provider_reports/pnr_without_zero/{REPORT_NAME}.xlsx")
def report_pnr_without_zero(planted: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 7, int(planted.new("no zero")))))


@case(f"provider_reports/pnr_second_sheet/{REPORT_NAME}.xlsx")
def report_pnr_second_sheet(planted: Planted) -> bytes:
    return xlsx_bytes(report_rows(), extra_sheet=[["Kontakt", f"kund {planted.new('12-')}"]])


@case(f"provider_reports/pnr_comment/{REPORT_NAME}.xlsx")
def report_pnr_comment(planted: Planted) -> bytes:
    return xlsx_bytes(report_rows(), comment=(6, 1, f"Gäller {planted.new()}"))


@case(f"provider_reports/pnr_header_field/{REPORT_NAME}.csv")
def report_pnr_header(planted: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(1, 1, f"Omsorg AB, kontakt {planted.new()}")))


@case(f"provider_reports/pnr_csv_field/{REPORT_NAME}.csv")
def report_pnr_csv(planted: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(7, 1, f"Syd {planted.new(' ')}")))


# --- provider reports: formulas -------------------------------------------------------------
@case(f"provider_reports/formula_cmd/{REPORT_NAME}.xlsx")
def report_formula_cmd(_: Planted) -> bytes:
    return xlsx_bytes(_edited_report(_set(6, 1, "=cmd|' /C calc'!A0")))


@case(f"provider_reports/formula_plus/{REPORT_NAME}.csv")
def report_formula_plus(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(7, 1, "+SUM(1)")))


@case(f"provider_reports/formula_at_header/{REPORT_NAME}.csv")
def report_formula_header(_: Planted) -> bytes:
    return swedish_csv(_edited_report(_set(1, 1, "@SUM(1)")))


# --- budget -------------------------------------------------------------------------------------
@case("budget/ok/budget_2024.csv")
def budget_good_csv(_: Planted) -> bytes:
    return swedish_csv(BUDGET_ROWS, "utf-8-sig")


@case("budget/ok/budget_2024.xlsx")
def budget_good_xlsx(_: Planted) -> bytes:
    return xlsx_bytes(BUDGET_ROWS, sheet="Budget")


@case("budget/zero_byte/budget_2024.xlsx")
def budget_zero(_: Planted) -> bytes:
    return b""


@case("budget/random_bytes/budget_2024.xlsx")
def budget_random(_: Planted) -> bytes:
    return _random(5000, 3)


@case("budget/truncated/budget_2024.csv")
def budget_truncated(_: Planted) -> bytes:
    data = swedish_csv(BUDGET_ROWS, "utf-8-sig")
    return data[: data.rindex(b"4660;2110") + 6]


@case("budget/duplicated_row/budget_2024.csv")
def budget_duplicated(_: Planted) -> bytes:
    return swedish_csv([*BUDGET_ROWS, BUDGET_ROWS[2]], "utf-8-sig")


@case("budget/absurd_amount/budget_2024.csv")
def budget_absurd(_: Planted) -> bytes:
    rows = [list(row) for row in BUDGET_ROWS]
    rows[2][5] = 1e15
    return swedish_csv(rows, "utf-8-sig")


@case("budget/pnr_cell/budget_2024.xlsx")
def budget_pnr_xlsx(planted: Planted) -> bytes:
    rows = [list(row) for row in BUDGET_ROWS]
    rows[2][3] = planted.new("")
    return xlsx_bytes(rows, sheet="Budget")


@case("budget/pnr_field/budget_2024.csv")
def budget_pnr_csv(planted: Planted) -> bytes:
    rows = [list(row) for row in BUDGET_ROWS]
    rows[3][3] = planted.new("\u2013")
    return swedish_csv(rows, "utf-8-sig")


@case("budget/formula/budget_2024.csv")
def budget_formula(_: Planted) -> bytes:
    rows = [list(row) for row in BUDGET_ROWS]
    rows[2][3] = "=A1"
    return swedish_csv(rows, "utf-8-sig")


# --- manual indicators ------------------------------------------------------------------------
def _manual(row: int, col: int, value: object) -> list[list[object]]:
    rows = [list(r) for r in MANUAL_ROWS]
    rows[row][col] = value
    return rows


@case(f"manual_indicators/ok/{MANUAL_NAME}.csv")
def manual_good_csv(_: Planted) -> bytes:
    return swedish_csv(MANUAL_ROWS, "utf-8-sig")


@case(f"manual_indicators/ok/{MANUAL_NAME}.xlsx")
def manual_good_xlsx(_: Planted) -> bytes:
    return xlsx_bytes(MANUAL_ROWS, sheet="Indikatorer")


@case(f"manual_indicators/unknown_indicator/{MANUAL_NAME}.csv")
def manual_unknown_indicator(_: Planted) -> bytes:
    return swedish_csv(_manual(1, 0, "I21"))


@case(f"manual_indicators/bad_year/{MANUAL_NAME}.csv")
def manual_bad_year(_: Planted) -> bytes:
    return swedish_csv(_manual(2, 1, 1899))


@case(f"manual_indicators/share_over_100/{MANUAL_NAME}.xlsx")
def manual_share_over_100(_: Planted) -> bytes:
    return xlsx_bytes(_manual(1, 2, 106.7), sheet="Indikatorer")


@case(f"manual_indicators/person_as_unit/{MANUAL_NAME}.csv")
def manual_person_as_unit(_: Planted) -> bytes:
    return swedish_csv(_manual(1, 4, "Karin Lindqvist"), "utf-8-sig")


@case(f"manual_indicators/pnr_comment/{MANUAL_NAME}.xlsx")
def manual_pnr_xlsx(planted: Planted) -> bytes:
    return xlsx_bytes(_manual(1, 3, f"Gäller patient {planted.new('')}"), sheet="Indikatorer")


@case(f"manual_indicators/pnr_comment/{MANUAL_NAME}.csv")
def manual_pnr_csv(planted: Planted) -> bytes:
    return swedish_csv(_manual(2, 3, f"Avser {planted.new('12-')}"), "utf-8-sig")


@case(f"manual_indicators/formula/{MANUAL_NAME}.csv")
def manual_formula(_: Planted) -> bytes:
    return swedish_csv(_manual(1, 3, '=HYPERLINK("http://x")'), "utf-8-sig")


# --- visit logs -----------------------------------------------------------------------------
def _visits(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def _visit_field(line: int, column: str, value: str) -> list[str]:
    lines = visit_lines()
    fields = lines[line].split(",")
    fields[VISIT_HEADER.split(",").index(column)] = value
    lines[line] = ",".join(fields)
    return lines


@case("visit_logs/ok/visits_2024.csv")
def visits_good(_: Planted) -> bytes:
    return _visits(visit_lines())


@case("visit_logs/zero_byte/visits_2024.csv")
def visits_zero(_: Planted) -> bytes:
    return b""


@case("visit_logs/truncated/visits_2024.csv")
def visits_truncated(_: Planted) -> bytes:
    data = _visits(visit_lines())
    return data[: data.rindex(b"2024-02-02T08:00:00") + 10]


@case("visit_logs/random_bytes/visits_2024.csv")
def visits_random(_: Planted) -> bytes:
    return _random(3000, 4)


@case("visit_logs/cp1252/visits_2024.csv")
def visits_cp1252(_: Planted) -> bytes:
    return _visits(visit_lines(), "cp1252")


@case("visit_logs/utf8_bom/visits_2024.csv")
def visits_bom(_: Planted) -> bytes:
    return b"\xef\xbb\xbf" + _visits(visit_lines())


@case("visit_logs/semicolons/visits_2024.csv")
def visits_semicolons(_: Planted) -> bytes:
    return _visits([line.replace(",", ";") for line in visit_lines()])


@case("visit_logs/headers_reordered/visits_2024.csv")
def visits_reordered(_: Planted) -> bytes:
    rows = [line.split(",") for line in visit_lines()]
    return _visits([",".join([row[1], row[0], *row[2:]]) for row in rows])


@case("visit_logs/headers_upper/visits_2024.csv")
def visits_upper(_: Planted) -> bytes:
    lines = visit_lines()
    lines[0] = lines[0].upper()
    return _visits(lines)


@case("visit_logs/unknown_column/visits_2024.csv")
def visits_unknown_column(_: Planted) -> bytes:
    return _visits([line + (",note" if i == 0 else ",x") for i, line in enumerate(visit_lines())])


@case("visit_logs/duplicated_row/visits_2024.csv")
def visits_duplicated(_: Planted) -> bytes:
    lines = visit_lines()
    return _visits([*lines, lines[1]])


@case("visit_logs/impossible_date/visits_2024.csv")
def visits_bad_date(_: Planted) -> bytes:
    return _visits(_visit_field(1, "planned_start", "2024-02-30T08:00:00"))


@case("visit_logs/negative_minutes/visits_2024.csv")
def visits_negative(_: Planted) -> bytes:
    return _visits(_visit_field(1, "planned_minutes", "-30"))


@case("visit_logs/absurd_minutes/visits_2024.csv")
def visits_absurd(_: Planted) -> bytes:
    return _visits(_visit_field(1, "planned_minutes", "1e9"))


@case("visit_logs/unknown_provider/visits_2024.csv")
def visits_unknown_provider(_: Planted) -> bytes:
    return _visits(_visit_field(1, "provider_org_nr", "556036-0793"))


@case("visit_logs/pnr_user_key/visits_2024.csv")
def visits_pnr(planted: Planted) -> bytes:
    return _visits(_visit_field(2, "user_key", planted.new("12")))


@case("visit_logs/pnr_header/visits_2024.csv")
def visits_pnr_header(planted: Planted) -> bytes:
    lines = visit_lines()
    lines[0] = lines[0].replace("service_type", f"service_type {planted.new()}")
    return _visits(lines)


@case("visit_logs/formula/visits_2024.csv")
def visits_formula(_: Planted) -> bytes:
    return _visits(_visit_field(1, "service_type", "=1+1"))


# --- health-care volumes --------------------------------------------------------------------
def _volumes(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


@case("health_care_volumes/ok/health_care_volumes_2024.csv")
def volumes_good(_: Planted) -> bytes:
    return _volumes(VOLUME_LINES)


@case("health_care_volumes/random_bytes/health_care_volumes_2024.csv")
def volumes_random(_: Planted) -> bytes:
    return VOLUME_LINES[0].encode() + b"\n" + _random(2000, 5)


@case("health_care_volumes/decimal_comma/health_care_volumes_2024.csv")
def volumes_decimal_comma(_: Planted) -> bytes:
    return _volumes([VOLUME_LINES[0], f'2024,1,{OMSORG[0]},hemsjukvard,8,"5,40"'])


@case("health_care_volumes/month_13/health_care_volumes_2024.csv")
def volumes_month_13(_: Planted) -> bytes:
    return _volumes([VOLUME_LINES[0], f"2024,13,{OMSORG[0]},hemsjukvard,8,5.40"])


@case("health_care_volumes/nan/health_care_volumes_2024.csv")
def volumes_nan(_: Planted) -> bytes:
    return _volumes([VOLUME_LINES[0], f"2024,1,{OMSORG[0]},hemsjukvard,8,NaN"])


@case("health_care_volumes/missing_column/health_care_volumes_2024.csv")
def volumes_missing_column(_: Planted) -> bytes:
    return _volumes([line.rsplit(",", 1)[0] for line in VOLUME_LINES])


@case("health_care_volumes/unknown_provider/health_care_volumes_2024.csv")
def volumes_unknown_provider(_: Planted) -> bytes:
    return _volumes([VOLUME_LINES[0], "2024,1,556036-0793,hemsjukvard,8,5.40"])


@case("health_care_volumes/pnr_field/health_care_volumes_2024.csv")
def volumes_pnr(planted: Planted) -> bytes:
    return _volumes([VOLUME_LINES[0], f"2024,1,{planted.new('sam')},hemsjukvard,8,5.40"])


# --- contract follow-up and action plans ----------------------------------------------------
def _lines(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


@case("contract_followup/ok/contract_followup_2023.csv")
def followup_good(_: Planted) -> bytes:
    return _lines(followup_lines())


@case("contract_followup/zero_byte/contract_followup_2023.csv")
def followup_zero(_: Planted) -> bytes:
    return b""


@case("contract_followup/one_mb_remark/contract_followup_2023.csv")
def followup_one_mb(_: Planted) -> bytes:
    lines = followup_lines()
    lines[1] = lines[1].replace("godkänd,,", f"delvis godkänd,{'Brister ' * 125_000},")
    return _lines(lines)


@case("contract_followup/pnr_remark/contract_followup_2023.csv")
def followup_pnr(planted: Planted) -> bytes:
    lines = followup_lines()
    lines[2] = lines[2].replace("godkänd,,", f"delvis godkänd,Klagomål från {planted.new('+')},")
    return _lines(lines)


@case("contract_followup/formula/contract_followup_2023.csv")
def followup_formula(_: Planted) -> bytes:
    lines = followup_lines()
    lines[1] = lines[1].replace("godkänd,,", "delvis godkänd,=1+1,")
    return _lines(lines)


@case("action_plans/ok/action_plans.csv")
def plans_good(_: Planted) -> bytes:
    return _lines(PLAN_LINES)


@case("action_plans/random_bytes/action_plans.csv")
def plans_random(_: Planted) -> bytes:
    return PLAN_LINES[0].encode() + b"\n" + _random(2000, 6)


@case("action_plans/impossible_date/action_plans.csv")
def plans_bad_date(_: Planted) -> bytes:
    return _lines([PLAN_LINES[0], PLAN_LINES[1].replace("2024-09-11,upp", "2023-02-30,upp")])


@case("action_plans/pnr_comment/action_plans.csv")
def plans_pnr(planted: Planted) -> bytes:
    return _lines([PLAN_LINES[0], PLAN_LINES[1] + f" för {planted.new(chr(0x2014))}"])


@case("action_plans/formula/action_plans.csv")
def plans_formula(_: Planted) -> bytes:
    return _lines([PLAN_LINES[0], PLAN_LINES[1].rsplit(",", 1)[0] + ",@SUM(1)"])


@case("action_plans/pnr_file_name/action_plans_19121212-1212.csv")
def plans_pnr_file_name(_: Planted) -> bytes:
    return _lines(PLAN_LINES[:2])


# --- Kolada -------------------------------------------------------------------------------------
def _json(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@case("kolada/ok/data_hostile.json", "kolada/resent/data_hostile_again.json")
def kolada_good(_: Planted) -> bytes:
    return _json(kolada_document())


@case("kolada/odd_name/data ÅÄÖ ü 'x' $(id).json")
def kolada_odd_name(_: Planted) -> bytes:
    return _json(kolada_document()).replace(b"55.0", b"56.0")


@case("kolada/zero_byte/data.json")
def kolada_zero(_: Planted) -> bytes:
    return b""


@case("kolada/truncated/data.json")
def kolada_truncated(_: Planted) -> bytes:
    data = _json(kolada_document())
    return data[: len(data) // 2]


@case("kolada/random_bytes/data.json")
def kolada_random(_: Planted) -> bytes:
    return _random(2000, 7)


@case("kolada/latin1/data.json")
def kolada_latin1(_: Planted) -> bytes:
    document = kolada_document()
    document["values"][0]["values"][0]["status"] = "Ändrad"
    return json.dumps(document, ensure_ascii=False).encode("latin-1")


@case("kolada/nan/data.json")
def kolada_nan(_: Planted) -> bytes:
    return _json(kolada_document()).replace(b"55.0", b"NaN")


@case("kolada/unknown_area/data.json")
def kolada_unknown_area(_: Planted) -> bytes:
    return _json(kolada_document()).replace(b'"0188"', b'"9999"')


@case("kolada/pnr_field/data.json")
def kolada_pnr(planted: Planted) -> bytes:
    document = kolada_document()
    document["values"][0]["values"][0]["status"] = planted.new()
    return _json(document)


@case("kolada/pnr_key/data.json")
def kolada_pnr_key(planted: Planted) -> bytes:
    document = kolada_document()
    document["values"][0][f"kund {planted.new('12')}"] = 1
    return _json(document)


# --- SIE ------------------------------------------------------------------------------------
@case("sie/ok/kson_2023.se")
def sie_good(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER)


@case("sie/utf8_declared_pc8/kson_2023.se")
def sie_utf8(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER, "utf-8")


@case("sie/formula_text/kson_2023.se")
def sie_formula(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER.replace('"Januari"', "\"=cmd|' /C calc'!A0\""))


@case("sie/zero_byte/kson_2023.se")
def sie_zero(_: Planted) -> bytes:
    return b""


@case("sie/random_bytes/kson_2023.se")
def sie_random(_: Planted) -> bytes:
    return _random(3000, 8)


@case("sie/truncated/kson_2023.se")
def sie_truncated(_: Planted) -> bytes:
    text = SIE_HEAD + SIE_VOUCHER
    return sie_bytes(text[: text.index("#TRANS 1930")])


@case("sie/ver_without_brace/kson_2023.se")
def sie_no_brace(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER.replace("}\n", "") + SIE_VOUCHER.replace("A 1", "A 2"))


@case("sie/unbalanced/kson_2023.se")
def sie_unbalanced(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER.replace("-100.00", "-99.99"))


@case("sie/wrong_ksumma/kson_2023.se")
def sie_wrong_ksumma(_: Planted) -> bytes:
    return sie_bytes("#KSUMMA\n" + SIE_HEAD + SIE_VOUCHER + "#KSUMMA 1234567\n")


@case("sie/undeclared_account/kson_2023.se")
def sie_undeclared(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER.replace("#TRANS 4660", "#TRANS 4661"))


@case("sie/empty_ledger/kson_2023.se")
def sie_empty_ledger(_: Planted) -> bytes:
    head = "".join(line + "\n" for line in SIE_HEAD.splitlines() if line[:3] not in ("#IB", "#UB"))
    return sie_bytes(head)


@case("sie/impossible_date/kson_2023.se")
def sie_bad_date(_: Planted) -> bytes:
    return sie_bytes(SIE_HEAD + SIE_VOUCHER.replace('20230131 "Januari"', '20230230 "Januari"'))


def _sie_with(edit: Callable[[Planted], str]) -> Builder:
    """A SIE file of the text ``edit`` gives (UTF-8 when cp437 lacks a character: a dash)."""

    def build(planted: Planted) -> bytes:
        text = edit(planted)
        try:
            return sie_bytes(text)
        except UnicodeEncodeError:
            return sie_bytes(text, "utf-8")

    return build


for _name, _edit in {
    "pnr_voucher_text": lambda p: (
        SIE_HEAD + SIE_VOUCHER.replace('"Januari"', f'"Ersättning kund {p.new(" ")}"')
    ),
    "pnr_transaction_text": lambda p: (
        SIE_HEAD + SIE_VOUCHER.replace('"Faktura 1001"', f'"Faktura {p.new(chr(0x2013))}"')
    ),
    "pnr_voucher_sign": lambda p: (
        SIE_HEAD + SIE_VOUCHER.replace("20230201", f'20230201 "{p.new("12")}"')
    ),
    "pnr_gen_sign": lambda p: (
        SIE_HEAD.replace("#GEN 20240215", f'#GEN 20240215 "{p.new()}"') + SIE_VOUCHER
    ),
    "pnr_prosa": lambda p: SIE_HEAD + f'#PROSA "Kontakt {p.new("sam")}"\n' + SIE_VOUCHER,
    "pnr_adress": lambda p: (
        SIE_HEAD
        + f'#ADRESS "Anna {p.new("+")}" "Storgatan 1" "761 30 Norrtälje" "0176-123 45"\n'
        + SIE_VOUCHER
    ),
    "pnr_unknown_record": lambda p: SIE_HEAD + f"#{p.new('12')} 1\n" + SIE_VOUCHER,
    "pnr_account_name": lambda p: SIE_HEAD.replace('"Bank"', f'"Bank {p.new("")}"') + SIE_VOUCHER,
}.items():
    case(f"sie/{_name}/kson_2023.se")(_sie_with(_edit))


# --- files no family takes ------------------------------------------------------------------
@case("other/unclaimed/report.xls")
def unclaimed_xls(_: Planted) -> bytes:
    return _random(1000, 9)


@case("other/unclaimed/notes.txt")
def unclaimed_text(_: Planted) -> bytes:
    return b"Anteckningar om leveransen\n"


# --------------------------------------------------------------------------------------------
# the table and the generator
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    """One row of ``expected.csv``: a file of the corpus and its expected outcome."""

    family: str  # the landing folder ("other": none, the file is unclaimed)
    file: str  # the path under <family>/0_hostile/
    outcome: str
    rule: str  # a substring of one error's rule (rejected), "" otherwise
    pending: str  # which part of issue 10 the outcome waits for ("" when it holds)

    @property
    def key(self) -> str:
        return f"{self.family}/{self.file}"

    @property
    def landing_path(self) -> str:
        """The path under the landing folder."""
        return f"{self.family}/{CORPUS_FOLDER}/{self.file}"


def expected() -> list[Expected]:
    with EXPECTED.open(encoding="utf-8", newline="") as handle:
        rows = [Expected(**row) for row in csv.DictReader(handle)]
    bad = [row.key for row in rows if row.outcome not in OUTCOMES]
    if bad:
        raise ValueError(f"{EXPECTED.name}: unknown outcome in {bad}")
    return rows


@dataclass(frozen=True)
class Built:
    path: Path
    expected: Expected
    planted: list[str]  # the 10-digit cores of the personal identity numbers planted


def _in_name(file: str) -> list[str]:
    """The 10-digit cores of the personal identity numbers written into a file's name."""
    from ingest.pii import SHAPE, is_personnummer

    found = [m for m in re.findall(SHAPE, file) if is_personnummer(m)]
    return [re.sub("[^0-9]", "", m)[-10:] for m in found]


def make_corpus(out: Path) -> list[Built]:
    """Write every file of ``expected.csv`` under ``out`` (a landing folder); what was built."""
    rows = expected()
    missing = sorted({row.key for row in rows} ^ set(BUILDERS))
    if missing:
        raise ValueError(f"expected.csv and the builders differ in: {missing}")
    built = []
    planted = Planted()
    for row in rows:
        start = len(planted.numbers)
        data = BUILDERS[row.key](planted)
        path = out / row.landing_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        built.append(Built(path, row, planted.numbers[start:] + _in_name(row.file)))
    return built


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m hostile.make_corpus OUT")
    built = make_corpus(Path(args[0]))
    families = sorted({b.expected.family for b in built})
    for family in families:
        rows = [b.expected for b in built if b.expected.family == family]
        counts = {o: sum(r.outcome == o for r in rows) for o in OUTCOMES}
        print(
            f"{family}: {len(rows)} files, " + ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        )
    print(f"{len(built)} files written under {args[0]}")


if __name__ == "__main__":
    main()
