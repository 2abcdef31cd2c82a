"""Home-care visit logs (``visits_<YYYY>.csv`` or ``visits_<YYYY>-<MM>.csv``, ~1 M rows a
year) → raw table ``visit_logs``.

The file is never read row by row in Python nor held in Python memory, and DuckDB parses it
once: in an in-memory connection of its own (1 GB memory limit, spilling to a temporary
folder) the rows are staged as Parquet in file order, each timestamp and the minutes parsed,
their text kept only where a cell is not clean; every validation query reads the staged rows.
An accepted file's :class:`SqlScan` loads the staged rows (the loader passes a ``staging``
folder beside its snapshot); a rejected file's are deleted. Without a staging folder
(``kson validate``) the scan reads the file again.

Validation (``docs/contracts/visit_log.md``):

1. Python checks the file name and the header line (BOM, line end, the ten column names).
2. Pass 1, one parallel aggregate over the staged rows: ``count_if`` per rule, the
   uniqueness of ``visit_id`` (a bitmap of the sequence numbers, ``bitstring_agg``: one bit
   per possible number, 3.4 MB a thread for 10 M rows), and per column the number of cells
   that are not in a provably clean form (a clean cell cannot hold a personal identity
   number, nor begin like a formula). A file DuckDB cannot split into ten fields per line
   fails this pass: with at most ``REJECTS_LIMIT`` such lines it is read again skipping and
   recording them (``store_rejects``, which costs memory per line), otherwise it is rejected
   with one summary error.
3. The distinct personal-identity-number candidates of the unclean cells (``pii.CANDIDATE``,
   and a 9-digit cell: a number whose leading zero was dropped; no column holds 9 digits)
   are checked with :mod:`ingest.pii`. Only when something failed: duplicate ids are found
   with a hash aggregate, the distinct org nrs that are neither known nor malformed are
   checked with python-stdnum, and pass 2 numbers the rows (Parquet's ``file_row_number``:
   the staged rows are in file order) to collect up to five example lines per failing rule, also
   of the text a spreadsheet would run as a formula (such a cell is never clean, so it
   always breaks another rule too).

A file whose header or CSV structure stops these passes, and the lines DuckDB cannot split,
are scanned for personal identity numbers line by line
(:func:`ingest.register_csv.scan_personnummer`), so every field of a file is checked
whatever its structure.

Errors name lines and columns and never a cell's value. A line number is the data row + 1,
corrected for the lines DuckDB read no row from (blank lines, rejected lines); a quoted value
spanning lines (which the contract never needs) would shift the numbers after it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from stdnum.se import orgnr

from ingest import reference
from ingest.pii import (
    CANDIDATE,
    RULE_PERSONNUMMER,
    RULE_WITHOUT_ZERO,
    SEPARATORS,
    WITHOUT_ZERO,
    is_personnummer,
    is_personnummer_without_leading_zero,
)
from ingest.register_csv import header_difference, scan_personnummer
from ingest.validation import (
    FORMULA_EXPECTED,
    FORMULA_RULE,
    FORMULA_START,
    Bound,
    ErrorCollector,
    ReadResult,
    SqlScan,
    sql_literal,
)

SOURCE = "visit_logs"
TABLE = "visit_logs"

SCHEMA = pl.Schema(
    {
        "visit_id": pl.String,
        "provider_org_nr": pl.String,
        "unit_id": pl.String,
        "user_key": pl.String,
        "staff_key": pl.String,
        "planned_start": pl.Datetime("us"),
        "planned_minutes": pl.Int32,
        "actual_start": pl.Datetime("us"),
        "actual_end": pl.Datetime("us"),
        "service_type": pl.String,
    }
)
TABLE_SCHEMAS = {TABLE: SCHEMA}

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names())
HEADER = ",".join(COLUMNS)
# A yearly file, or a monthly one (the form time-tracking systems export).
FILE_NAME = re.compile(r"^visits_(\d{4})(?:-(0[1-9]|1[0-2]))?\.csv$")
FILE_NAME_RULE = "file name does not match visits_<YYYY>.csv or visits_<YYYY>-<MM>.csv"
FILE_NAME_EXPECTED = "visits_<YYYY>.csv or visits_<YYYY>-<MM>.csv, e.g. visits_2023.csv"
SERVICE_TYPES: tuple[str, ...] = (
    "personlig omvårdnad",
    "tillsyn",
    "måltid",
    "service",
    "dusch",
    "social samvaro",
    "ledsagning",
)
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
MINUTES = Bound(1, 480, "minutes a visit")
MAX_VISIT_HOURS = 12
MAX_VISITS_A_DAY = 100  # one user's visits on one day (the sample's busiest day: 21)

MEMORY_LIMIT = "1GB"
EXAMPLES = 5  # example line numbers per failing rule
MAX_DISTINCT_CHECKED = 100_000  # distinct org nrs / PII candidates handed to Python at most
REJECTS_LIMIT = 10_000  # unparseable lines DuckDB records
EXPECTED_PII = "pseudonymous keys only, no personal identity numbers"

_DUCKDB_TYPES = {pl.String: "VARCHAR", pl.Datetime("us"): "TIMESTAMP", pl.Int32: "INTEGER"}
_D, _H = "[0-9]", "[0-9a-f]"
# Key formats as DuckDB predicates (GLOB where it is cheaper than RE2) and their description.
_PATTERNS = {
    "visit_id": (f"visit_id GLOB 'V{_D * 4}-{_D * 8}'", "V<year>-<8 digits>, e.g. V2023-00000001"),
    "unit_id": (f"unit_id GLOB 'E{_D * 5}'", "E and 5 digits, e.g. E10001"),
    "user_key": ("regexp_full_match(user_key, 'U[0-9a-f]{12}')", "U and 12 lower-case hex digits"),
    "staff_key": ("regexp_full_match(staff_key, 'S[0-9a-f]{9}')", "S and 9 lower-case hex digits"),
}
_TIMESTAMPS = {"planned_start": "_ps", "actual_start": "_as", "actual_end": "_ae"}
# The typed columns: parsed once while staging; their text is staged only where it is not
# clean (see _Validation._clean), so a staged text is NULL for every clean cell.
_TYPED = {**_TIMESTAMPS, "planned_minutes": "_min"}
# A visit's day: of the parsed planned_start, else of its text
_DAY = "coalesce(strftime(_ps, '%Y-%m-%d'), substr(planned_start, 1, 10))"
_ORG_FORMAT = "[0-9]{6}-[0-9]{4}"
# The order of the errors (the contract's rules); an entry also covers the keys "<entry>_...".
_ORDER = (
    "empty",
    "type",
    "pattern_visit_id",
    "unique_visit_id",
    "org",
    "pattern_unit_id",
    "pattern_user_key",
    "pattern_staff_key",
    "year",
    "minutes_range",
    "end_after_start",
    "visit_length",
    "same_date",
    "visits_a_day",
    "service_type",
    "formula",
    "pii",
)
_REJECT_RULES = {
    "TOO MANY COLUMNS": "the line has more than ten fields",
    "MISSING COLUMNS": "the line has fewer than ten fields",
    "UNQUOTED VALUE": "quote character inside an unquoted value or a quote never closed",
    "INVALID ENCODING": "the line is not valid UTF-8",
    "LINE SIZE OVER MAXIMUM": "the line is longer than DuckDB's maximum line size",
}


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a visit log: a ``.csv`` whose header starts ``visit_id,``."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(64)
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"visit_id,")


def read(path: Path, staging: Path | None = None) -> ReadResult:
    """Validate one visit-log file in DuckDB; on success, a :class:`SqlScan` that loads it.

    With a ``staging`` folder (the loader's, beside the file's snapshot) the accepted rows are
    kept there as Parquet and the scan loads them from it: the file is parsed once. Without
    one (``kson validate``) they are dropped and the scan reads the file again.
    """
    path = Path(path).resolve()
    errors = ErrorCollector(path.name)
    period = file_period(path.name)
    if period is None:
        errors.add("file name", FILE_NAME_RULE, FILE_NAME_EXPECTED)
    if not _check_header(path, errors):
        scanned = _scan(path, errors)
        return ReadResult(errors=errors.finish(), scanned=scanned)

    with tempfile.TemporaryDirectory(prefix="kson_visit_logs_") as spill:
        staged = Path(staging or spill) / f"{path.name}.rows.parquet"
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory={sql_literal(spill)}")
            rows, scanned = _Validation(con, path, period, errors, staged).run()
        except duckdb.InvalidInputException as error:  # a CSV DuckDB cannot parse at all
            if "CSV" not in str(error):
                raise
            _csv_error(errors, error, None)
            rows, scanned = 0, _scan(path, errors)
        finally:
            con.close()
        if errors or staging is None:
            staged.unlink(missing_ok=True)  # nothing half-written stays
    if errors:
        return ReadResult(errors=errors.finish(), scanned=scanned)
    query = load_sql if staging is None else partial(_staged_load_sql, str(staged))
    return ReadResult(tables={TABLE: SqlScan(query=query, rows=rows)}, scanned=scanned)


def file_period(name: str) -> tuple[int, int | None] | None:
    """The (year, month) a file name covers (month None for a yearly file), or None when the
    name is neither ``visits_<YYYY>.csv`` nor ``visits_<YYYY>-<MM>.csv``."""
    match = FILE_NAME.match(name)
    if match is None:
        return None
    month = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), month


def _scan(path: Path, errors: ErrorCollector, lines: set[int] | None = None) -> bool:
    """Every field of the file (of ``lines``) scanned line by line for personal identity
    numbers, whatever its structure; whether it could be."""
    return scan_personnummer(path, COLUMNS, errors, EXPECTED_PII, lines)


def load_sql(path: Path) -> str:
    """The ``SELECT`` that loads a validated file: explicit types, the schema's columns."""
    columns = {name: _DUCKDB_TYPES[dtype] for name, dtype in SCHEMA.items()}
    select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
    return f"SELECT {select} FROM {_read_csv(Path(path).resolve(), columns)}"


def _staged_load_sql(staged: str, _archived: Path) -> str:
    """The ``SELECT`` that loads the rows :func:`read` staged as Parquet (the typed values it
    parsed while validating; the archived file is not read again)."""
    select = ", ".join(f"{_TYPED[c]} AS {c}" if c in _TYPED else c for c in COLUMNS)
    return f"SELECT {select} FROM read_parquet({sql_literal(staged)})"


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------
def _list_literal(values: Sequence[str]) -> str:
    return "[" + ", ".join(sql_literal(v) for v in values) + "]::VARCHAR[]"


def _read_csv(path: Path, columns: dict[str, str], extra: str = "") -> str:
    """The one ``read_csv`` call used for validation and load (same options, explicit types)."""
    spec = "{" + ", ".join(f"{sql_literal(c)}: {sql_literal(t)}" for c, t in columns.items()) + "}"
    return (
        f"read_csv({sql_literal(str(path))}, header=true, auto_detect=false, delim=',', "
        f"quote='\"', escape='\"', encoding='utf-8', strict_mode=true, "
        f"timestampformat={sql_literal(TIMESTAMP_FORMAT)}, columns={spec}{extra})"
    )


@dataclass(frozen=True)
class _Rule:
    key: str
    column: str
    flag: str  # SQL boolean over the parsed rows (NULL counts as "not broken")
    text: str
    expected: str | None = None
    personal_data: bool = False  # the rule finds personal data (the file is not quarantined)


def _check_header(path: Path, errors: ErrorCollector) -> bool:
    """Whether the first line is the header, as the contract writes it (else an error)."""
    expected = HEADER + " (UTF-8 without BOM, LF line ends)"
    with path.open("rb") as handle:
        first = handle.readline(64 * 1024)
    if not first:
        errors.add("line 1", "the file is empty", expected)
    elif first.startswith(b"\xef\xbb\xbf"):
        errors.add("line 1", "the file starts with a byte order mark", expected)
    elif first.endswith(b"\r\n") or (b"\r" in first):
        errors.add("line 1", "line ends are CR LF, not LF", expected)
    else:
        try:
            text = first.decode("utf-8").rstrip("\n")
        except UnicodeDecodeError:
            errors.add("line 1", "the header is not UTF-8", expected)
            return False
        if text == HEADER:
            return True
        detail = header_difference(text, COLUMNS)
        errors.add("line 1", f"header is not the ten columns ({detail})", HEADER)
    return False


def _csv_error(errors: ErrorCollector, error: duckdb.Error, lines: int | None) -> None:
    """A DuckDB CSV error as a report line: the line number and the kind of problem, never the
    line's text (DuckDB quotes it, and it may hold personal data)."""
    message = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", message)
    columns = re.search(r"Expected Number of Columns: \d+ Found: (\d+)", message)
    if columns:
        kind = "MISSING COLUMNS" if int(columns.group(1)) < len(COLUMNS) else "TOO MANY COLUMNS"
        rule = _REJECT_RULES[kind]
    elif "unterminated quote" in message:
        rule = _REJECT_RULES["UNQUOTED VALUE"]
    elif "Invalid unicode" in message:
        rule = _REJECT_RULES["INVALID ENCODING"]
    else:
        rule = "the file cannot be read as CSV (check quotes, field count and line ends)"
    count = max(lines or 1, 1)  # lines DuckDB cannot read (None: unknown)
    place = _place([int(line.group(1))], count, None) if line else "file"
    rule = _with_count(rule, count, unit="lines")
    errors.add(place, rule, f"ten comma-separated fields: {HEADER}")


def _line_ends(path: Path) -> tuple[int, list[int]]:
    """The number of lines and the numbers of the blank lines (which DuckDB skips), counted
    with numpy in 16 MB blocks."""
    lines = 0
    blank: list[int] = []
    previous = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            # a blank line is a line end right after another one; it is line (ends before) + 1
            after = np.flatnonzero(np.diff(ends) == 1) + 1
            if previous == b"\n" and block[:1] == b"\n":
                after = np.concatenate([[0], after])
            blank += (after + lines + 1).tolist()
            lines += len(ends)
            previous = block[-1:]
    lines += int(previous not in (b"", b"\n"))  # a last line without a line end
    return lines, blank


def _place(lines: Sequence[int], count: int, column: str | None) -> str:
    shown = ", ".join(str(line) for line in lines)
    if count == 1 and len(lines) == 1:
        place = f"line {shown}"
    elif lines:
        more = count - len(lines)
        place = f"lines {shown}" + (f" (and {more} more)" if more > 0 else "")
    else:
        place = f"{count} rows"
    return f"{place}, column {column}" if column else place


def _with_count(text: str, count: int, at_least: bool = False, unit: str = "rows") -> str:
    if count <= 1 and not at_least:
        return text
    return f"{text} ({'at least ' if at_least else ''}{count} {unit})"


# --------------------------------------------------------------------------------------------
# The validation
# --------------------------------------------------------------------------------------------
class _Validation:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        period: tuple[int, int | None] | None,
        errors: ErrorCollector,
        staged: Path,
    ) -> None:
        self.con = con
        self.path = path
        self.errors = errors
        self.year, self.month = period or (None, None)
        self.staged = staged
        self.scanned = True  # every field checked for personal identity numbers
        known = sorted(o for o in reference.known_org_nrs() if reference.is_valid_org_nr(o))
        self.known = _list_literal(known)
        # a valid row takes over 100 bytes: sequence numbers up to size / 50 fit the bitmap
        self.bitmap_size = min(max(path.stat().st_size // 50, 1 << 16), 99_999_999)
        self.tolerant = False  # skip and record unparseable lines (only when there are few)
        self.params: dict[str, list[str]] = {}  # lists found in pass 1, bound in pass 2

    # -- the scans -----------------------------------------------------------------------
    def _stage(self) -> None:
        """The one parse of the file: its rows into the staged Parquet in file order, each
        typed column parsed (``_ps``, ``_as``, ``_ae``, ``_min``) and its text kept only
        where the cell is not clean. Strict unless the file has a few unparseable lines: then
        DuckDB skips them and records them in ``stage_errors`` (memory per line)."""
        text = dict.fromkeys(COLUMNS, "VARCHAR")
        extra = ""
        if self.tolerant:
            extra = (
                ", store_rejects=true, rejects_table='stage_errors', "
                f"rejects_scan='stage_scans', rejects_limit={REJECTS_LIMIT}"
            )
        fmt = sql_literal(TIMESTAMP_FORMAT)
        typed = [
            f"CASE WHEN {c} LIKE '____-__-__T__:__:__' THEN try_strptime({c}, {fmt}) END AS {a}"
            for c, a in _TIMESTAMPS.items()
        ]
        typed.append(
            "CASE WHEN NOT planned_minutes GLOB '*[!0-9]*' AND length(planned_minutes) <= 9 "
            "THEN CAST(planned_minutes AS INTEGER) END AS _min"
        )
        clean = {a: f"{a} IS NOT NULL" for a in _TIMESTAMPS.values()}
        clean["_min"] = "_min IS NOT NULL AND length(planned_minutes) < 9"
        kept = [
            f"CASE WHEN NOT ({clean[_TYPED[c]]}) THEN {c} END AS {c}" if c in _TYPED else c
            for c in COLUMNS
        ]
        source = f"SELECT *, {', '.join(typed)} FROM {_read_csv(self.path, text, extra)}"
        self.con.execute(
            f"COPY (SELECT {', '.join(kept)}, {', '.join(_TYPED.values())} FROM ({source})) "
            f"TO {sql_literal(str(self.staged))} (FORMAT parquet)"
        )

    def _parsed(self, numbered: bool = False) -> str:
        """Every staged row plus the per-cell checks the rules share (``_row``: the data row's
        number in file order)."""
        parsed = [
            f"list_contains({self.known}, provider_org_nr) AS _org_known",
            f"list_contains({_list_literal(SERVICE_TYPES)}, service_type) AS _service_ok",
        ]
        # a well-formed visit_id as a number (for duplicates) and, in the file's year, its
        # 8-digit sequence number (for the bitmap)
        parsed.append(
            "CASE WHEN _visit_id_ok "
            "THEN CAST(substr(visit_id, 2, 4) || substr(visit_id, 7) AS BIGINT) END AS _key"
        )
        year = sql_literal(f"V{self.year}-%") if self.year is not None else "NULL"
        parsed.append(
            f"CASE WHEN _visit_id_ok AND visit_id LIKE {year} "
            "THEN CAST(substr(visit_id, 7) AS INTEGER) END AS _seq"
        )
        patterns = ", ".join(f"{p} AS _{c}_ok" for c, (p, _) in _PATTERNS.items())
        row = "file_row_number + 1 AS _row, " if numbered else ""
        source = f"SELECT {row}*, {patterns} FROM {self._staged_scan(numbered)}"
        return f"SELECT *, {', '.join(parsed)} FROM ({source})"

    def _staged_scan(self, numbered: bool = False) -> str:
        extra = ", file_row_number=true" if numbered else ""
        return f"read_parquet({sql_literal(str(self.staged))}{extra})"

    @staticmethod
    def _clean(column: str) -> str:
        """SQL: the cell is in a form that cannot hold a personal identity number."""
        if column in _TIMESTAMPS:
            return f"{_TIMESTAMPS[column]} IS NOT NULL"
        return {
            "visit_id": "_visit_id_ok",
            "unit_id": "_unit_id_ok",
            # A well-formed hex key can only hold a number as a run of 10 or 12 digits: never
            # in a staff key (9 hex digits); in a user key the run covers characters 4-11.
            "user_key": f"_user_key_ok AND CASE WHEN substr(user_key, 4, 8) GLOB '{_D * 8}' "
            "THEN NOT regexp_matches(user_key, '[0-9]{10}') ELSE true END",
            "staff_key": "_staff_key_ok",
            "provider_org_nr": "_org_known",  # valid org nrs: 'month' >= 20
            # staged: the text of minutes is kept only when not clean (see _stage)
            "planned_minutes": "_min IS NOT NULL AND planned_minutes IS NULL",
            "service_type": "_service_ok",
        }[column]

    def _rules(self) -> list[_Rule]:
        rules = [
            _Rule(
                f"empty_{c}",
                c,
                f"{c} IS NULL AND {_TYPED[c]} IS NULL" if c in _TYPED else f"{c} IS NULL",
                "empty value",
                "a value in every column",
            )
            for c in COLUMNS
        ]
        for column, alias in _TIMESTAMPS.items():
            rules.append(
                _Rule(
                    f"type_{column}",
                    column,
                    f"{column} IS NOT NULL AND {alias} IS NULL",
                    "not a valid timestamp",
                    "YYYY-MM-DDTHH:MM:SS, e.g. 2023-01-31T08:30:00",
                )
            )
        in_range = f"BETWEEN {MINUTES.minimum} AND {MINUTES.maximum}"
        # minutes that are some other number (-30, 1e9, 30.5): out of range, or not whole
        number = "TRY_CAST(planned_minutes AS DOUBLE)"
        other = f"CASE WHEN isfinite({number}) THEN {number} END"
        rules.append(
            _Rule(
                "type_planned_minutes",
                "planned_minutes",
                "CASE WHEN planned_minutes IS NULL OR _min IS NOT NULL THEN false "
                f"ELSE coalesce({other} {in_range}, true) END",
                "not an integer",
                "whole minutes in digits, e.g. 30",
            )
        )
        for column, (_, expected) in _PATTERNS.items():
            rules.append(
                _Rule(
                    f"pattern_{column}",
                    column,
                    f"NOT _{column}_ok",
                    f"malformed {column}",
                    expected,
                )
            )
        if self.month is not None:
            rules.append(
                _Rule(
                    "year",
                    "planned_start",
                    f"year(_ps) <> {self.year} OR month(_ps) <> {self.month}",
                    "planned_start is not in the month of the file name",
                    f"a planned_start in {self.year}-{self.month:02d}",
                )
            )
        elif self.year is not None:
            rules.append(
                _Rule(
                    "year",
                    "planned_start",
                    f"year(_ps) <> {self.year}",
                    "planned_start is not in the year of the file name",
                    f"a planned_start in {self.year}",
                )
            )
        rules += [
            _Rule(
                "minutes_range",
                "planned_minutes",
                f"CASE WHEN _min IS NOT NULL THEN _min NOT {in_range} "
                f"ELSE {other} NOT {in_range} END",
                Bound.RULE,
                MINUTES.expected,
            ),
            _Rule(
                "end_after_start",
                "actual_end",
                "_ae <= _as",
                "actual_end is not after actual_start",
                "actual_start < actual_end",
            ),
            _Rule(
                "visit_length",
                "actual_end",
                f"_ae > _as + INTERVAL {MAX_VISIT_HOURS} HOUR",
                f"visit longer than {MAX_VISIT_HOURS} hours",
                f"actual_end - actual_start ≤ {MAX_VISIT_HOURS} h",
            ),
            _Rule(
                "same_date",
                "actual_start",
                "CAST(_as AS DATE) <> CAST(_ps AS DATE)",
                "actual_start is not on the date of planned_start",
                "the visit starts on its planned date",
            ),
            _Rule(
                "service_type",
                "service_type",
                "NOT _service_ok",
                "unknown service_type",
                ", ".join(SERVICE_TYPES),
            ),
        ]
        return rules

    # -- the passes ----------------------------------------------------------------------
    def run(self) -> tuple[int, bool]:
        """Check the file, adding its errors; the rows, and whether every field was scanned
        for personal identity numbers."""
        rules = self._rules()
        aggregates = [f"count_if({r.flag}) AS {r.key}" for r in rules]
        aggregates += [f"count_if(NOT ({self._clean(c)})) AS unclean_{c}" for c in COLUMNS]
        aggregates += [
            "count_if(NOT _org_known) AS org_not_known",
            # uniqueness: a bitmap of the sequence numbers of this year's ids, one bit for each
            # possible number up to twice the rows the file can hold (ids beyond: exact check)
            f"count_if(_seq <= {self.bitmap_size}) AS ids_in_bitmap",
            f"coalesce(bit_count(bitstring_agg(CASE WHEN _seq <= {self.bitmap_size} THEN _seq "
            f"END, 0, {self.bitmap_size})), 0) AS distinct_in_bitmap",
            f"count_if(_visit_id_ok) - count_if(_seq <= {self.bitmap_size}) AS ids_elsewhere",
        ]
        try:
            self._stage()
        except duckdb.InvalidInputException as error:
            if "CSV" not in str(error):
                raise
            unparseable = self._count_unparseable()
            if not 0 < unparseable <= REJECTS_LIMIT:
                _csv_error(self.errors, error, unparseable)
                return 0, _scan(self.path, self.errors)
            self.tolerant = True  # a few broken lines: report them and check the rest
            self._stage()
        # pass 1 and every later query read the staged rows, not the file
        self.con.execute("SET preserve_insertion_order=false")
        select = f"SELECT count(*) AS n, {', '.join(aggregates)} FROM "
        totals = self._totals(select + f"({self._parsed()})")

        rejected = self._rejected_lines() if self.tolerant else []
        failing = [r for r in rules if totals[r.key]]
        if totals["ids_elsewhere"] or totals["ids_in_bitmap"] > totals["distinct_in_bitmap"]:
            failing += self._duplicate_rule()
        if totals["org_not_known"]:
            failing += self._org_rules()
        failing += self._busy_day_rule()
        failing += self._pii_rules(totals)
        if not failing:
            return totals["n"], self.scanned
        failing += self._formula_rules()

        # pass 2: count again and collect example lines, the rows numbered in file order
        flags = [
            f"count_if({r.flag}), min(_row, {EXAMPLES}) FILTER (WHERE {r.flag})" for r in failing
        ]
        query = f"SELECT {', '.join(flags)} FROM ({self._parsed(numbered=True)})"
        values = self.con.execute(query, self.params or None).fetchall()[0]
        skipped = sorted({*rejected, *_line_ends(self.path)[1]})  # lines DuckDB read no row from
        ranked = sorted(  # stable: rules keep their column order
            (i for i, rule in enumerate(failing) if values[2 * i]),
            key=lambda i: _rank(failing[i].key),
        )
        for i in ranked:
            rule, count, rows = failing[i], values[2 * i], sorted(values[2 * i + 1])
            self.errors.add(
                _place([_line(r, skipped) for r in rows], count, rule.column),
                _with_count(rule.text, count),
                rule.expected,
                personal_data=rule.personal_data,
            )
        return totals["n"], self.scanned

    def _totals(self, query: str) -> dict[str, int]:
        cursor = self.con.execute(query)
        names = [d[0] for d in cursor.description]
        return {name: value or 0 for name, value in zip(names, cursor.fetchall()[0], strict=True)}

    def _count_unparseable(self) -> int:
        """Data lines DuckDB cannot read: non-blank lines minus the rows it reads when told to
        skip bad lines (which, unlike recording them, takes no memory per line)."""
        text = dict.fromkeys(COLUMNS, "VARCHAR")
        scan = _read_csv(self.path, text, ", ignore_errors=true")
        (readable,) = self.con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0]
        lines, blank = _line_ends(self.path)
        return lines - 1 - len(blank) - readable

    def _rejected_lines(self) -> list[int]:
        """Report the lines DuckDB could not split into ten fields (and the personal identity
        numbers in them); return their numbers."""
        found = self.con.execute(
            "SELECT CAST(error_type AS VARCHAR), count(DISTINCT line), "
            f"list(DISTINCT line ORDER BY line)[1:{EXAMPLES}] FROM stage_errors GROUP BY 1 "
            "ORDER BY min(line)"
        ).fetchall()
        for error_type, count, lines in found:
            at_least = count >= REJECTS_LIMIT
            self.errors.add(
                _place(lines, count, None),
                _with_count(
                    _REJECT_RULES.get(error_type, error_type.lower()), count, at_least, "lines"
                ),
                f"ten comma-separated fields: {HEADER}",
            )
        lines = [
            line
            for (line,) in self.con.execute(
                "SELECT DISTINCT line FROM stage_errors ORDER BY 1"
            ).fetchall()
        ]
        if lines and not _scan(self.path, self.errors, set(lines)):
            self.scanned = False
        return lines

    def _duplicate_rule(self) -> list[_Rule]:
        """The visit_ids on more than one line, as integers in a temporary table (a hash
        aggregate over all ids: about 60 bytes an id, spilled to disk beyond the memory limit);
        the rule flags every line holding one."""
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE duplicate_ids AS SELECT _key FROM "
            f"({self._parsed()}) WHERE _key IS NOT NULL GROUP BY _key HAVING count(*) > 1"
        )
        (ids,) = self.con.execute("SELECT count(*) FROM duplicate_ids").fetchall()[0]
        if not ids:
            return []
        return [
            _Rule(
                "unique_visit_id",
                "visit_id",
                "_key IN (SELECT _key FROM duplicate_ids)",
                f"visit_id is not unique: {ids} visit_id{'s' if ids > 1 else ''} on more than "
                "one line",
                "each visit_id on one line only",
            )
        ]

    def _busy_day_rule(self) -> list[_Rule]:
        """The users with more than ``MAX_VISITS_A_DAY`` visits on one day (a hash aggregate
        over two text columns of the file, in a temporary table: about 0.1 s for a year);
        the rule flags their visits that day."""
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE busy_days AS SELECT user_key, {_DAY} AS day "
            f"FROM {self._staged_scan()} GROUP BY ALL HAVING count(*) > {MAX_VISITS_A_DAY}"
        )
        (days,) = self.con.execute("SELECT count(*) FROM busy_days").fetchall()[0]
        if not days:
            return []
        return [
            _Rule(
                "visits_a_day",
                "user_key",
                f"(user_key, {_DAY}) IN (SELECT (user_key, day) FROM busy_days)",
                f"more than {MAX_VISITS_A_DAY} visits for one user on one day",
                f"at most {MAX_VISITS_A_DAY} visits a user and day",
            )
        ]

    def _org_rules(self) -> list[_Rule]:
        """Split the org nrs that are not known-valid into malformed/invalid and unknown."""
        structure = (
            f"regexp_full_match(provider_org_nr, '{_ORG_FORMAT}') "
            "AND substr(provider_org_nr, 3, 1) >= '2'"
        )
        candidates = self.con.execute(
            f"SELECT DISTINCT provider_org_nr FROM ({self._parsed()}) "
            f"WHERE NOT _org_known AND {structure} LIMIT {MAX_DISTINCT_CHECKED}"
        ).fetchall()
        # beyond the cap a value is reported as unknown, which it is in any case
        self.params["bad_check_digit"] = sorted(v for (v,) in candidates if not orgnr.is_valid(v))
        invalid = f"NOT ({structure}) OR list_contains($bad_check_digit, provider_org_nr)"
        return [
            _Rule(
                "org_invalid",
                "provider_org_nr",
                f"NOT _org_known AND ({invalid})",
                "provider_org_nr is not a valid organisation number",
                "NNNNNN-NNNN with a valid check digit and third digit ≥ 2",
            ),
            _Rule(
                "org_unknown",
                "provider_org_nr",
                f"NOT _org_known AND NOT ({invalid})",
                "provider_org_nr is not in the provider register (providers.csv)",
                "the org nr of a registered provider",
            ),
        ]

    def _pii_rules(self, totals: dict[str, int]) -> list[_Rule]:
        """Rules flagging cells that hold a personal identity number, or are one whose leading
        zero was dropped (checked in Python on the distinct candidates of the cells that are
        not provably clean). More candidates than can be checked reject the file unscanned."""
        unclean = [c for c in COLUMNS if totals[f"unclean_{c}"]]
        if not unclean:
            return []
        lists = ", ".join(
            f"CASE WHEN NOT ({self._clean(c)}) THEN list_append({_candidates(c)}, "
            f"{_zero_dropped(c)}) ELSE []::VARCHAR[] END"
            for c in unclean
        )
        candidates = self.con.execute(
            f"SELECT DISTINCT candidate FROM (SELECT unnest(flatten([{lists}])) AS candidate "
            f"FROM ({self._parsed()})) WHERE candidate <> '' LIMIT {MAX_DISTINCT_CHECKED}"
        ).fetchall()
        if len(candidates) >= MAX_DISTINCT_CHECKED:
            self.scanned = False
            self.errors.add(
                "file",
                f"more than {MAX_DISTINCT_CHECKED} distinct numbers that may be personal "
                "identity numbers: too many to check",
                EXPECTED_PII,
            )
        found = {
            "personal_numbers": sorted(v for (v,) in candidates if is_personnummer(v)),
            "zero_dropped": sorted(
                v for (v,) in candidates if is_personnummer_without_leading_zero(v)
            ),
        }
        self.params.update((key, values) for key, values in found.items() if values)
        rules = []
        for c in unclean:
            cell = f"NOT ({self._clean(c)})"
            if found["personal_numbers"]:
                flag = f"{cell} AND list_has_any({_candidates(c)}, $personal_numbers)"
                rules.append(_Rule(f"pii_{c}", c, flag, RULE_PERSONNUMMER, EXPECTED_PII, True))
            if found["zero_dropped"]:
                flag = f"{cell} AND list_contains($zero_dropped, {_zero_dropped(c)})"
                rules.append(_Rule(f"pii_zero_{c}", c, flag, RULE_WITHOUT_ZERO, EXPECTED_PII, True))
        return rules

    def _formula_rules(self) -> list[_Rule]:
        """Text a spreadsheet would run as a formula, in any column. Checked in pass 2 only:
        no clean cell begins with =, + or @, so such a cell breaks another rule too."""
        return [
            _Rule(
                f"formula_{c}",
                c,
                f"NOT ({self._clean(c)}) AND regexp_matches({c}, {sql_literal(FORMULA_START)}) "
                f"AND TRY_CAST(trim({c}) AS DOUBLE) IS NULL",
                FORMULA_RULE,
                FORMULA_EXPECTED,
            )
            for c in COLUMNS
        ]


def _candidates(text: str) -> str:
    """SQL: the personal-identity-number candidates in ``text`` (``ingest.pii.CANDIDATE``).
    The pattern consumes a letter right after a candidate, so a second candidate behind it is
    missed (``0701234567a191212121212``); matching again with every character other than
    digits and ``ingest.pii.SEPARATORS`` doubled finds it."""
    pattern = sql_literal(CANDIDATE)
    doubled = f"regexp_replace({text}, '([^0-9{SEPARATORS}])', '\\1\\1', 'g')"
    return (
        f"list_concat(regexp_extract_all({text}, {pattern}, 2), "
        f"regexp_extract_all({doubled}, {pattern}, 2))"
    )


def _zero_dropped(text: str) -> str:
    """SQL: the 9 digits of a cell that is a 9-digit number (``ingest.pii.WITHOUT_ZERO``), or
    an empty string."""
    return f"regexp_extract({text}, {sql_literal(WITHOUT_ZERO)}, 1)"


def _rank(key: str) -> int:
    """The position of a rule's errors in the report (the contract's order)."""
    for i, prefix in enumerate(_ORDER):
        if key == prefix or key.startswith(prefix + "_"):
            return i
    return len(_ORDER)


def _line(row: int, skipped: list[int]) -> int:
    """The file line of data row ``row`` (1-based among the rows DuckDB read), given the
    sorted lines it read no row from (blank or rejected)."""
    line = row + 1
    for number in skipped:
        if number <= line:
            line += 1
    return line
