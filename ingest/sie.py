"""SIE 4 general-ledger files (``*.se``, ``*.si``; "SIE filformat, utgåva 4B") → raw tables.

One file → ``sie_files`` (one row), ``sie_years``, ``sie_accounts``, ``sie_dimensions``,
``sie_objects``, ``sie_balances`` and ``sie_transactions``. See ``docs/contracts/sie.md`` for the
contract: the records read, those ignored, the rules and their error texts, and the encodings.

How it reads:

1. The bytes are decoded once: ``#FORMAT PC8`` → CP437, unless the file is valid UTF-8 holding
   non-ASCII bytes (some programs write UTF-8 and still declare PC8); without ``#FORMAT``:
   UTF-8 when it decodes strictly, else Windows-1252, or CP437 when the bytes are Swedish
   letters in CP437 and not in Windows-1252 (real files without ``#FORMAT`` are often PC8).
2. The voucher rows (``#TRANS``/``#RTRANS``/``#BTRANS``, nearly all of a ledger's lines) are
   split into their fields in bulk: one vectorised polars pass with a regular expression over
   all lines. A loop walks the other lines (header, ``#VER``, braces, balances, and the rare
   row the bulk pattern does not read whole) with a small tokenizer and follows the vouchers'
   ``{ … }`` blocks; each bulk row then takes its voucher from the loop's state at its line.
   ``#RTRANS`` twins and row numbers are window expressions per voucher; ``#KSUMMA`` joins
   the loop's records and the bulk rows in file order.
3. The column lists become polars frames; amounts, quantities, dates, periods and year
   indexes are checked with vectorised regular expressions *before* they are cast (polars
   would silently round ``1.239`` to ``1.24`` and read ``2023013`` as a date), and the
   ledger rules (vouchers balance, declared accounts, IB + transactions = UB) are polars
   aggregations.

A file is accepted whole or not at all: every error is collected (a capped number per rule,
then one "N more" line), and a file with errors gets no tables. Errors name lines and fields,
never a text value from the file (it may hold personal data).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from stdnum.se import orgnr as stdnum_orgnr

from ingest.pii import contains_personnummer, find_personnummer, is_personnummer
from ingest.validation import Bound, ReadResult, ValidationError

SOURCE = "sie"

FILES_TABLE = "sie_files"
YEARS_TABLE = "sie_years"
ACCOUNTS_TABLE = "sie_accounts"
DIMENSIONS_TABLE = "sie_dimensions"
OBJECTS_TABLE = "sie_objects"
BALANCES_TABLE = "sie_balances"
TRANSACTIONS_TABLE = "sie_transactions"

MONEY = pl.Decimal(18, 2)
QUANTITY = pl.Decimal(18, 4)
OBJECT_LIST = pl.List(pl.Struct({"dimension": pl.Int32, "object": pl.String}))

TABLE_SCHEMAS: dict[str, pl.Schema] = {
    FILES_TABLE: pl.Schema(
        {
            "sie_type": pl.String,
            "format": pl.String,
            "encoding": pl.String,
            "program": pl.String,
            "program_version": pl.String,
            "generated_on": pl.Date,
            "company_name": pl.String,
            "org_nr": pl.String,
            "currency": pl.String,
            "ksumma_present": pl.Boolean,
            "ksumma_valid": pl.Boolean,
        }
    ),
    YEARS_TABLE: pl.Schema({"year_index": pl.Int32, "start_date": pl.Date, "end_date": pl.Date}),
    ACCOUNTS_TABLE: pl.Schema(
        {"account": pl.String, "name": pl.String, "account_type": pl.String, "sru": pl.String}
    ),
    DIMENSIONS_TABLE: pl.Schema(
        {"dimension": pl.Int32, "name": pl.String, "parent_dimension": pl.Int32}
    ),
    OBJECTS_TABLE: pl.Schema({"dimension": pl.Int32, "object": pl.String, "name": pl.String}),
    BALANCES_TABLE: pl.Schema(
        {
            "kind": pl.String,
            "year_index": pl.Int32,
            "period": pl.String,
            "account": pl.String,
            "objects": OBJECT_LIST,
            "amount": MONEY,
            "quantity": QUANTITY,
            "source_line": pl.Int32,
        }
    ),
    TRANSACTIONS_TABLE: pl.Schema(
        {
            "voucher_series": pl.String,
            "voucher_number": pl.String,
            "voucher_date": pl.Date,
            "voucher_text": pl.String,
            "voucher_reg_date": pl.Date,
            "voucher_line": pl.Int32,
            "row_kind": pl.String,
            "row_number": pl.Int32,
            "account": pl.String,
            "objects": OBJECT_LIST,
            "amount": MONEY,
            "transaction_date": pl.Date,
            "transaction_text": pl.String,
            "quantity": QUANTITY,
            # The #TRANS sign field (who registered the row, often a person's name) is read
            # for the personal-data check but not loaded: no names in the warehouse.
            "source_line": pl.Int32,
        }
    ),
}

MAX_ERRORS_PER_RULE = 20
HEAD_LINES = 30  # ``accepts`` looks for #SIETYP this far into the file

# Formats of the values, checked before casting. An amount has at most two decimals (more
# are accepted when they are zeros: ``100.000``); a quantity at most four.
AMOUNT = r"^-?[0-9]{1,16}(\.[0-9]{1,2}0*)?$"
QUANTITY_FORMAT = r"^-?[0-9]{1,14}(\.[0-9]{1,4}0*)?$"
DATE = r"^[0-9]{8}$"
PERIOD = r"^[0-9]{4}(0[1-9]|1[0-2])$"
YEAR_INDEX = r"^(0|-[1-9][0-9]{0,2})$"
EXPECTED_AMOUNT = "digits, a point before at most two decimals, minus for credit: -1234.50"
EXPECTED_QUANTITY = "digits, a point before at most four decimals: 12.5"
EXPECTED_DATE = "a real date as YYYYMMDD, e.g. 20230131"
# Plausible ranges (docs/contracts/sie.md, "Bounds"): one amount, one quantity, and every
# amount of the file together (which keeps the marts' sums within DECIMAL(18,2)).
AMOUNT_BOUND = Bound(-(10**11), 10**11, "SEK")
QUANTITY_BOUND = Bound(-(10**9), 10**9, "units")
TOTAL_BOUND = Bound(0, 10**13, "SEK, the sum of |amount| over the file's rows and balances")

BALANCE_KINDS = ("IB", "UB", "RES", "OIB", "OUB", "PSALDO", "PBUDGET")
ROW_KINDS = {"#TRANS": "TRANS", "#RTRANS": "RTRANS", "#BTRANS": "BTRANS"}
ACCOUNT_TYPES = {"T", "S", "K", "I"}
OBJECTS_AT = {"#OIB": 2, "#OUB": 2, "#PSALDO": 3, "#PBUDGET": 3}

# Records of the specification that are read, and those read but not stored.
KNOWN_LABELS = frozenset(
    {
        "#FLAGGA", "#KSUMMA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#PROSA", "#FTYP",
        "#FNR", "#ORGNR", "#BKOD", "#ADRESS", "#FNAMN", "#RAR", "#TAXAR", "#OMFATTN",
        "#KPTYP", "#VALUTA", "#KONTO", "#KTYP", "#ENHET", "#SRU", "#DIM", "#UNDERDIM",
        "#OBJEKT", "#IB", "#UB", "#OIB", "#OUB", "#RES", "#PSALDO", "#PBUDGET", "#VER",
        "#TRANS", "#RTRANS", "#BTRANS",
    }
)  # fmt: skip
SYNTAX = {
    "#TRANS": "#TRANS account {objects} amount [date] [text] [quantity] [sign]",
    "#VER": "#VER series number date [text] [registration date] [sign]",
    "#IB": "#IB year account amount [quantity]",
    "#OIB": "#OIB year account {dimension object} amount [quantity]",
    "#PSALDO": "#PSALDO year period account {objects} amount [quantity]",
    "#RAR": "#RAR year start end",
    "#KONTO": "#KONTO account name",
    "#KTYP": "#KTYP account T|S|K|I",
    "#SRU": "#SRU account code",
    "#DIM": "#DIM dimension name",
    "#UNDERDIM": "#UNDERDIM dimension name parent",
    "#OBJEKT": "#OBJEKT dimension object name",
}
SYNTAX["#RTRANS"] = SYNTAX["#TRANS"].replace("#TRANS", "#RTRANS")
SYNTAX["#BTRANS"] = SYNTAX["#TRANS"].replace("#TRANS", "#BTRANS")
for _kind in ("#UB", "#RES"):
    SYNTAX[_kind] = SYNTAX["#IB"].replace("#IB", _kind)
SYNTAX["#OUB"] = SYNTAX["#OIB"].replace("#OIB", "#OUB")
SYNTAX["#PBUDGET"] = SYNTAX["#PSALDO"].replace("#PSALDO", "#PBUDGET")
MIN_FIELDS = {
    "#TRANS": 3, "#RTRANS": 3, "#BTRANS": 3, "#VER": 3, "#IB": 3, "#UB": 3, "#RES": 3,
    "#OIB": 4, "#OUB": 4, "#PSALDO": 5, "#PBUDGET": 5, "#RAR": 3, "#KONTO": 1, "#KTYP": 2,
    "#SRU": 2, "#DIM": 1, "#UNDERDIM": 3, "#OBJEKT": 2,
}  # fmt: skip

# A field: "quoted" (with \" escapes; group 2 is empty when the quote is never closed),
# a brace, or a bare word.
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)("|$)|([{}])|([^\s"{}]+)')
_FORMAT_LINE = re.compile(rb'(?:\A|[\r\n])[ \t]*#FORMAT[ \t]+"?([^\s"]*)')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
# Bytes of Swedish letters: in CP437 (ä å é É Ä Å ö Ö ü) and in Windows-1252 (ä å é É Ä Å ö Ö ü).
_CP437_LETTERS = [bytes([b]) for b in b"\x84\x86\x82\x90\x8e\x8f\x94\x99\x81"]
_CP1252_LETTERS = [bytes([b]) for b in b"\xe4\xe5\xe9\xc9\xc4\xc5\xf6\xd6\xfc"]


@dataclass
class SieReadResult(ReadResult):
    """A :class:`ReadResult` that also keeps the counts :func:`summary` reports (a rejected
    file has no tables to count from)."""

    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Public interface
# --------------------------------------------------------------------------------------------
def accepts(path: Path) -> bool:
    """Whether ``path`` looks like an SIE file: its first non-empty line is ``#FLAGGA``, or a
    ``#SIETYP`` record is among its first lines (the extension is not looked at)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16 * 1024)
    except OSError:
        return False
    lines = [line.strip() for line in head.removeprefix(b"\xef\xbb\xbf").splitlines()]
    lines = [line for line in lines if line][:HEAD_LINES]
    if not lines:
        return False
    return lines[0].startswith(b"#FLAGGA") or any(line.startswith(b"#SIETYP") for line in lines)


def read(path: Path) -> ReadResult:
    """Parse and validate one SIE 4 file."""
    path = Path(path)
    raw = path.read_bytes()
    errors = _Errors(path.name)
    notes: list[str] = []
    if not raw.strip(b" \t\r\n\x1a"):
        errors.add(None, "content", "the file is empty", "an SIE 4 file: #FLAGGA, #SIETYP 4, …")
        return SieReadResult(errors=errors.finish(), notes=notes)
    decoded = _decode(raw, errors, notes)
    if decoded is None:
        return SieReadResult(errors=errors.finish(), notes=notes)
    text, encoding, declared = decoded
    parser = _Parser(path, errors, notes, encoding)
    parser.parse(text)
    tables, stats = parser.build(declared)
    stats["encoding"] = encoding
    result = SieReadResult(errors=errors.finish(), notes=notes, stats=stats)
    if result.ok:
        result.tables = tables
    return result


def summary(result: ReadResult) -> dict[str, Any]:
    """What ``kson validate --json`` shows for an SIE file: type, encoding, financial years,
    voucher and row counts, whether every voucher balances, the year-0 sum per account
    (exact decimals as strings) and the errors as (line, rule)."""
    stats = dict(getattr(result, "stats", {}) or {})
    if not stats and result.tables:  # a plain ReadResult: count from the tables
        stats = _stats_from_tables(result.tables)
    return {
        "sie_type": stats.get("sie_type"),
        "encoding": stats.get("encoding"),
        "financial_years": stats.get("financial_years", []),
        "vouchers": stats.get("vouchers", 0),
        "transaction_rows": stats.get("transaction_rows", 0),
        "btrans_rows": stats.get("btrans_rows", 0),
        "skipped_rtrans_twins": stats.get("skipped_rtrans_twins", 0),
        "all_vouchers_balance": stats.get("all_vouchers_balance"),
        "ksumma": stats.get("ksumma"),
        "account_sums_year0": stats.get("account_sums_year0", {}),
        "valid": result.ok,
        "errors": [{"line": _line_of(e.place), "rule": e.rule} for e in result.errors],
        "notes": list(result.notes),
    }


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class _Errors:
    """Collects errors per rule; ``finish`` orders them by line and caps each rule."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[tuple[int, str, ValidationError]] = []
        self.generic: dict[str, str] = {}

    def add(
        self,
        line: int | None,
        key: str,
        rule: str,
        expected: str | None = None,
        *,
        place: str | None = None,
        generic: str | None = None,
        personal_data: bool = False,
    ) -> None:
        at = place or (f"line {line}" if line else "file")
        error = ValidationError(self.name, at, rule, expected, personal_data)
        self.found.append((line or 0, key, error))
        self.generic.setdefault(key, generic or rule)

    def finish(self) -> list[ValidationError]:
        kept: list[ValidationError] = []
        per_rule: dict[str, int] = {}
        dropped: dict[str, list[int]] = {}
        for line, key, error in sorted(self.found, key=lambda item: item[0]):
            per_rule[key] = per_rule.get(key, 0) + 1
            if per_rule[key] <= MAX_ERRORS_PER_RULE:
                kept.append(error)
            else:
                dropped.setdefault(key, []).append(line)
        for key, lines in dropped.items():
            shown = ", ".join(str(n) for n in lines[:5])
            more = f" (and {len(lines) - 5} more)" if len(lines) > 5 else ""
            kept.append(
                ValidationError(
                    self.name,
                    f"lines {shown}{more}",
                    f"{len(lines)} more: {self.generic[key]}",
                    personal_data=any(e.personal_data for _, k, e in self.found if k == key),
                )
            )
        return kept


def _line_of(place: str) -> int | None:
    match = re.match(r"lines? (\d+)", place)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
def _decode(raw: bytes, errors: _Errors, notes: list[str]) -> tuple[str, str, str | None] | None:
    """(text, encoding used, #FORMAT as declared), or None after an error."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        errors.add(
            1,
            "encoding",
            "the file is not 8-bit text: it holds NUL bytes (UTF-16 or a binary file?)",
            "SIE text in PC8 (CP437), one record a line",
        )
        return None
    bom = raw.startswith(b"\xef\xbb\xbf")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    match = _FORMAT_LINE.search(raw)
    declared = match.group(1).decode("ascii", "replace").upper() if match else None
    line_end = b"\n" if b"\n" in raw else b"\r"
    format_line = raw.count(line_end, 0, match.end(1)) + 1 if match else 1
    utf8 = _utf8(raw)
    ascii_only = raw.isascii()
    if bom and utf8 is not None:
        encoding = "utf-8"
        notes.append("the file starts with a UTF-8 byte order mark: read as UTF-8")
    elif declared == "PC8":
        if utf8 is not None and not ascii_only:
            encoding = "utf-8"
            notes.append("#FORMAT says PC8 (CP437) but the file is valid UTF-8: read as UTF-8")
        else:
            encoding = "cp437"
    elif declared is None:
        if utf8 is not None:
            encoding = "utf-8"
        else:
            cp437 = sum(raw.count(letter) for letter in _CP437_LETTERS)
            cp1252 = sum(raw.count(letter) for letter in _CP1252_LETTERS)
            encoding = "cp437" if cp437 > cp1252 or not _decodes(raw, "cp1252") else "cp1252"
        if not ascii_only:
            notes.append(f"no #FORMAT record: read as {_ENCODING_NAMES[encoding]}")
    elif declared in ("UTF8", "UTF-8"):
        if utf8 is None:
            errors.add(
                format_line,
                "encoding",
                f"#FORMAT says {declared} but the file is not valid UTF-8",
                "#FORMAT PC8 with CP437 text, or valid UTF-8",
            )
            return None
        encoding = "utf-8"
        notes.append(f"#FORMAT {declared} is not in the SIE 4 specification: read as UTF-8")
    elif declared in ("ANSI", "WINDOWS", "CP1252", "WINDOWS-1252", "ISO-8859-1", "LATIN1"):
        encoding = "cp1252"
        if not _decodes(raw, encoding):
            errors.add(
                format_line,
                "encoding",
                f"#FORMAT says {declared} but the file is not Windows-1252 text",
                "#FORMAT PC8 with CP437 text",
            )
            return None
        notes.append(f"#FORMAT {declared} is not in the SIE 4 specification: read as cp1252")
    else:
        errors.add(
            format_line,
            "encoding",
            "#FORMAT names a character set this reader does not know",
            "#FORMAT PC8 (CP437; the only one in the SIE 4 specification)",
        )
        return None
    text = utf8 if encoding == "utf-8" else raw.decode(encoding)
    assert text is not None
    if "\ufffd" in text:
        notes.append(
            f"{text.count(chr(0xFFFD))} replacement characters (U+FFFD): letters were lost "
            "before the file was written"
        )
    return text, encoding, declared


_ENCODING_NAMES = {"cp437": "CP437 (PC8)", "cp1252": "Windows-1252", "utf-8": "UTF-8"}


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------
Field = str | tuple[str, ...]  # a value, or the tokens of an object list {…}

# Where a voucher row is, as the loop's state at its line: a voucher's index, or these.
_OUTSIDE = -1  # outside any #VER { … } block
_SKIPPED = -2  # inside the { … } block of an unknown record, which is skipped
# The voucher rows before they become the transactions table (amounts still text).
ROW_SCHEMA = {
    "voucher": pl.Int64,
    "row_kind": pl.String,
    "account": pl.String,
    "object_list": pl.UInt32,
    "amount": pl.String,
    "transaction_date": pl.String,
    "transaction_text": pl.String,
    "quantity": pl.String,
    "sign": pl.String,
    "source_line": pl.Int32,
}

# One field, quoted (group 1, \" escapes) or bare (group 2).
_FIELD = r'(?:"((?:[^"\\]|\\.)*)"|([^\s"{}]+))'
# A whole well-formed row after its label, in one match: account, {objects} (raw inside,
# group 3), amount, then up to four optional fields. A line it does not match (extra fields,
# missing blanks, odd quoting) goes through the general tokenizer, which reads the same.
_ROW = re.compile(
    rf"{_FIELD}[ \t]*\{{((?:[^{{}}\"]|\"(?:[^\"\\]|\\.)*\")*)\}}[ \t]*{_FIELD}"
    rf"(?:[ \t]+{_FIELD})?(?:[ \t]+{_FIELD})?(?:[ \t]+{_FIELD})?(?:[ \t]+{_FIELD})?[ \t]*$"
)


def _fields(rest: str) -> tuple[list[Field], str | None, int]:
    """The fields after a record's label, a problem (or None) and the number of object
    lists. An object list becomes the tuple of its tokens; quotes are removed and ``\\"``
    unescaped (the only escape of the specification; other backslashes are kept)."""
    fields: list[Field] = []
    objects: list[str] | None = None
    lists = 0
    if '"' not in rest:
        if "{" not in rest and "}" not in rest:
            return rest.split(), None, 0  # type: ignore[return-value]
        for token in rest.replace("{", " { ").replace("}", " } ").split():
            if token == "{":
                if objects is not None:
                    return fields, "{ inside an object list", lists
                objects = []
            elif token == "}":
                if objects is None:
                    return fields, "} without an opening { in the record", lists
                fields.append(tuple(objects))
                objects = None
                lists += 1
            elif objects is None:
                fields.append(token)
            else:
                objects.append(token)
    else:
        for quoted, close, brace, bare in _TOKEN.findall(rest):
            if bare:
                (fields if objects is None else objects).append(bare)
            elif brace == "{":
                if objects is not None:
                    return fields, "{ inside an object list", lists
                objects = []
            elif brace:
                if objects is None:
                    return fields, "} without an opening { in the record", lists
                fields.append(tuple(objects))
                objects = None
                lists += 1
            elif not close:
                return fields, "a quoted field is not closed", lists
            else:
                value = quoted.replace('\\"', '"') if "\\" in quoted else quoted
                (fields if objects is None else objects).append(value)
    if objects is not None:
        return fields, "an object list { … } is not closed", lists
    return fields, None, lists


def _crc_text(label: str, fields: list[Field]) -> str:
    """What a record adds to the #KSUMMA checksum: its label and its fields' contents, without
    the blanks between fields, the delimiting quotes and the braces."""
    return label + "".join(value if type(value) is str else "".join(value) for value in fields)


def _object_problem(tokens: tuple[str, ...]) -> tuple[str, str] | None:
    """Why the tokens of an object list are not pairs of a dimension number and an object
    (the rule and what is expected), or None."""
    if len(tokens) % 2:
        return (
            "the object list does not hold pairs of dimension and object",
            '{dimension "object" …}, e.g. {1 "100" 6 "P12"}',
        )
    for dimension in tokens[::2]:
        if not (dimension.isascii() and dimension.isdigit()) or len(dimension) > 9:
            return (
                "a dimension in the object list is not a number",
                '{dimension "object" …} with whole-number dimensions',
            )
    return None


def _exact(amount: pl.Expr) -> pl.Expr:
    """An amount as an exact number, to compare ``100`` with ``100.00`` (null if malformed)."""
    return amount.cast(pl.Decimal(38, 10), strict=False)


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, path: Path, errors: _Errors, notes: list[str], encoding: str) -> None:
        self.path = path
        self.errors = errors
        self.notes = notes
        self.encoding = encoding
        self.head: dict[str, Any] = {}
        self.years: list[tuple[str, str, str, int]] = []
        self.accounts: dict[str, list[Any]] = {}  # account → [name, type, sru]
        self.declared: set[str] = set()
        self.dimensions: dict[int, tuple[str | None, int | None]] = {}
        self.objects: dict[tuple[int, str], str | None] = {}
        self.unknown: dict[str, list[int]] = {}
        self.object_lists: dict[tuple[str, ...], int] = {(): 0}
        self.object_pairs: list[list[tuple[int, str]]] = [[]]
        self.ksumma: dict[str, Any] = {}
        self.missing_objects = 0
        self.twins_skipped = 0
        self.twins_missing: list[int] = []
        self.object_text: list[str] = [""]  # an object list's tokens as #KSUMMA counts them
        self.raw_object_lists: dict[str, int] = {"": 0}  # the text between the braces → index
        self.crc_parts: list[tuple[int, str]] = []  # (line, text) of the records the loop read
        self.crc_windows: list[list[Any]] = []  # [opening line, closing line or None]
        self.bulk_crc = pl.DataFrame(schema={"source_line": pl.Int32, "crc": pl.String})
        # (series, number, date, text, registration date, line)
        self.vouchers: list[tuple[str, str, str | None, str | None, str | None, int]] = []
        # (kind, year, period, account, object list, amount, quantity, line)
        self.balances: list[tuple[Any, ...]] = []
        # the rows the loop read: (voucher, kind, account, object list, amount, date, text,
        # quantity, sign, line), as ROW_SCHEMA; with the bulk rows they become row_frame
        self.rows: list[tuple[Any, ...]] = []
        self.row_frame = pl.DataFrame(schema=ROW_SCHEMA | {"row_number": pl.Int32})
        self.unclosed: list[int] = []  # the #VER lines of blocks never closed

    # -- the pass over the lines -------------------------------------------------------------
    def parse(self, text: str) -> None:  # noqa: C901 - one loop over the records on purpose
        """Read the records. The voucher rows, nearly all of a ledger's lines, are split into
        their fields in bulk (:meth:`_bulk_rows`, one vectorised pass); the loop below walks the
        other lines (header, #VER, braces, balances) and the few rows the bulk pattern does not
        read whole. The rows then get their voucher from the state of the loop at their line
        (:meth:`_place_rows`)."""
        error = self.errors.add
        text = text.rstrip("\x1a\r\n")  # a DOS end-of-file mark (Ctrl-Z) and the last line end
        lines = text.split("\n") if "\n" in text else text.split("\r")
        if _CONTROL.search(text) is not None:
            self._control_characters(lines)
        bulk = self._bulk_rows(lines)
        self.bulk_crc = bulk.select("source_line", "crc")
        is_bulk = np.zeros(len(lines) + 1, dtype=bool)
        is_bulk[bulk["source_line"].to_numpy()] = True
        numbers = np.flatnonzero(~is_bulk[1:]) + 1  # the lines the loop reads
        state: list[int] = []  # per line read: the state the bulk rows just before it are in

        voucher = -1  # index of the open voucher, -1 when none
        in_block = False  # inside the { … } of the voucher
        expect_block = 0  # line of a #VER waiting for its {
        skip_block = 0  # line of an unknown record whose { … } block is being skipped
        after_unknown = False
        ksumma_on = False
        crc = self.crc_parts
        add_row = self.rows.append
        row_kinds = ROW_KINDS
        previous = 0

        def no_block() -> None:
            """A record after a #VER that did not open its { … } block."""
            nonlocal expect_block, voucher
            error(
                expect_block,
                "ver_block",
                "#VER is not followed by a { … } block",
                "{ on the line after #VER",
            )
            expect_block, voucher = 0, -1

        def rows_seen() -> None:
            """What bulk rows between two lines read do to the state: outside a voucher block
            they are records like any other (and reported in :meth:`_place_rows`)."""
            nonlocal after_unknown
            if skip_block or not in_block:
                after_unknown = False
                if not skip_block and expect_block:
                    no_block()

        for number in numbers.tolist():
            state.append(_SKIPPED if skip_block else voucher if in_block else _OUTSIDE)
            if number - previous > 1:
                rows_seen()
            previous = number
            s = lines[number - 1].strip()
            if not s:
                continue
            if s[0] == "#":
                parts = s.split(None, 1)
                label = written = parts[0]
                if not label.isupper():
                    label = label.upper()  # labels are upper case; read others alike
                rest = parts[1] if len(parts) > 1 else ""
                kind = row_kinds.get(label)
                fields, problem, lists = _fields(rest) if rest else ([], None, 0)
                if ksumma_on and label != "#KSUMMA":
                    crc.append((number, _crc_text(written, fields)))
                if kind is not None and in_block and not skip_block:
                    # a voucher row the bulk pattern did not read: the general tokenizer
                    if problem is not None:
                        error(number, "syntax", f"{label}: {problem}", SYNTAX[label])
                        continue
                    if len(fields) > 1 and type(fields[1]) is not tuple:
                        fields.insert(1, ())  # no object list (SIE 1-3 style): read as {}
                        self.missing_objects += 1
                        lists += 1
                    if len(fields) < 3 or lists != 1:
                        error(
                            number,
                            "fields",
                            f"{label} has too few fields or an object list out of place",
                            SYNTAX[label],
                        )
                        continue
                    account, objects, amount = fields[0], fields[1], fields[2]
                    index = self.object_lists.get(objects)  # type: ignore[arg-type]
                    if index is None:
                        index = self._object_list(objects, number, label)  # type: ignore[arg-type]
                    if index is None:
                        continue  # a malformed object list, reported
                    if not account or not amount:
                        error(number, "fields", f"{label}: account or amount empty", SYNTAX[label])
                        continue
                    extra = [v or None for v in fields[3:7]] + [None] * (7 - len(fields))
                    add_row((voucher, kind, account, index, amount, *extra[:4], number))
                    continue

                # any other record
                after_unknown = False
                if skip_block:
                    continue
                if expect_block:
                    no_block()
                if kind is not None:  # a row outside a voucher block
                    error(number, "trans_outside", f"{label} outside a #VER {{ … }} block")
                    continue
                if in_block and label in KNOWN_LABELS:
                    # a record that cannot be part of a voucher: the block was never closed
                    error(
                        self.vouchers[voucher][5],
                        "ver_unclosed",
                        "the #VER block is not closed by }",
                        "} after the voucher's last #TRANS row",
                    )
                    self.unclosed.append(self.vouchers[voucher][5])
                    in_block, voucher = False, -1
                if problem is not None:
                    error(number, "syntax", f"{label}: {problem}", SYNTAX.get(label))
                    if label != "#VER":  # a voucher still opens, so its rows are read
                        continue
                if label == "#VER":
                    voucher = self._voucher(fields, lists, number)
                    expect_block = number
                elif label == "#KSUMMA":
                    was_on, ksumma_on = ksumma_on, self._ksumma(fields, number)
                    if ksumma_on and not was_on:
                        self.crc_windows.append([number, None])
                    elif was_on and not ksumma_on:
                        self.crc_windows[-1][1] = number
                elif label in KNOWN_LABELS:
                    self._record(label, fields, number)
                else:
                    self.unknown.setdefault(label, []).append(number)
                    after_unknown = True
            elif s == "{":
                if expect_block:
                    in_block, expect_block = True, 0
                elif after_unknown:
                    skip_block = number
                else:
                    error(
                        number,
                        "brace",
                        "{ out of place: a { … } block must follow a #VER record",
                        "#VER …, then { on its own line, the #TRANS rows, and }",
                    )
                after_unknown = False
            elif s == "}":
                if skip_block:
                    skip_block = 0
                elif in_block:
                    in_block, voucher = False, -1
                else:
                    error(number, "brace", "} without an opening {", "{ and } around the rows")
                after_unknown = False
            else:
                error(
                    number,
                    "syntax",
                    "the line is neither a record (#LABEL fields) nor { or }",
                    "#LABEL field field …",
                )

        state.append(_SKIPPED if skip_block else voucher if in_block else _OUTSIDE)
        if len(lines) > previous:
            rows_seen()
        if in_block:
            error(
                self.vouchers[voucher][5],
                "ver_unclosed",
                "the #VER block is not closed by } (the file ends inside it: cut short?)",
                "} after the voucher's last #TRANS row",
            )
            self.unclosed.append(self.vouchers[voucher][5])
        elif expect_block:
            error(
                expect_block, "ver_block", "#VER is not followed by a { … } block", "{ after #VER"
            )
        if self.ksumma.get("open") and "declared" not in self.ksumma:
            error(
                self.ksumma["open"],
                "ksumma",
                "#KSUMMA opened here is never closed: the file was cut short",
                "a closing #KSUMMA <checksum> as the last record",
            )
        self._place_rows(bulk, numbers, state)
        self._notes()

    def _bulk_rows(self, lines: list[str]) -> pl.DataFrame:
        """The voucher rows whose line the row pattern reads whole, split into their fields
        in one vectorised pass (polars, Rust regex): line, label (upper case), kind, account,
        object_list (index, null when malformed), object_rule/object_expected (why),
        amount, transaction_date, transaction_text, quantity, sign, and ``crc`` (what the
        row adds to the #KSUMMA checksum)."""
        heads = (
            pl.DataFrame({"text": pl.Series(lines, dtype=pl.String)})
            .with_row_index("line", offset=1)
            .lazy()
            .select("line", pl.col("text").str.strip_chars(" \t\r").str.splitn(" ", 2).alias("p"))
            .unnest("p")
            .rename({"field_0": "label", "field_1": "rest"})
            .filter(pl.col("label").str.to_uppercase().is_in(list(ROW_KINDS)))
        )
        rows = (
            heads.select(
                "line",
                "label",
                pl.col("rest")
                .str.strip_chars_start(" \t")
                .str.extract_groups(_ROW.pattern)
                .alias("f"),
            )
            .unnest("f")
            .collect()
        )
        rows = rows.filter(pl.col("3").is_not_null())  # the row pattern matched

        def value(quoted: str, bare: str) -> pl.Expr:
            unescaped = pl.col(quoted).str.replace_all('\\"', '"', literal=True)
            return pl.coalesce(pl.col(bare), unescaped)

        def optional(quoted: str, bare: str, name: str) -> pl.Expr:
            text = value(quoted, bare)
            return pl.when(text != "").then(text).alias(name)

        rows = rows.select(
            pl.col("line").cast(pl.Int32).alias("source_line"),
            pl.col("label").alias("written"),
            pl.col("label").str.to_uppercase().alias("label"),
            value("1", "2").alias("account"),
            pl.col("3").alias("raw"),
            value("4", "5").alias("amount"),
            optional("6", "7", "transaction_date"),
            optional("8", "9", "transaction_text"),
            optional("10", "11", "quantity"),
            optional("12", "13", "sign"),
        )
        objects = pl.DataFrame(
            [(raw, *self._bulk_object_list(raw)) for raw in rows["raw"].unique().to_list()],
            schema={
                "raw": pl.String,
                "object_list": pl.UInt32,
                "object_text": pl.String,
                "object_rule": pl.String,
                "object_expected": pl.String,
            },
            orient="row",
        )
        return (
            rows.join(objects, on="raw", how="left")
            .with_columns(
                pl.col("label").replace_strict(ROW_KINDS).alias("row_kind"),
                pl.concat_str(
                    "written",
                    "account",
                    "object_text",
                    "amount",
                    "transaction_date",
                    "transaction_text",
                    "quantity",
                    "sign",
                    ignore_nulls=True,
                ).alias("crc"),
            )
            .drop("written", "raw", "object_text")
            .sort("source_line")
        )

    def _bulk_object_list(self, raw: str) -> tuple[int | None, str, str | None, str | None]:
        """An object list given as the text between its braces: its index and #KSUMMA text,
        or, when malformed, the rule it breaks and what is expected."""
        index = self.raw_object_lists.get(raw)
        if index is not None:
            return index, self.object_text[index], None, None
        tokens, problem, lists = _fields(raw)
        if problem is not None or lists:
            return None, "", "malformed object list", '{1 "100" 6 "P12"}'
        broken = _object_problem(tuple(tokens))  # type: ignore[arg-type]
        if broken is not None:
            return None, "", *broken
        index = self.object_lists.get(tuple(tokens))  # type: ignore[arg-type]
        if index is None:
            index = self._add_object_list(tuple(tokens))  # type: ignore[arg-type]
        self.raw_object_lists[raw] = index
        return index, self.object_text[index], None, None

    def _place_rows(self, bulk: pl.DataFrame, numbers: np.ndarray, state: list[int]) -> None:
        """Put the bulk rows in their vouchers (the loop's state at their line), report the
        rows outside a voucher block and the broken ones, join the rows the loop read, then
        apply the #RTRANS rule and number the rows of each voucher: ``self.row_frame``."""
        error = self.errors.add
        lines = bulk["source_line"].to_numpy()
        where = np.asarray(state, dtype=np.int64)[np.searchsorted(numbers, lines)]
        bulk = bulk.with_columns(pl.Series("voucher", where, dtype=pl.Int64))
        outside = bulk.filter(pl.col("voucher") == _OUTSIDE)
        for line, label in outside.select("source_line", "label").rows():
            error(line, "trans_outside", f"{label} outside a #VER {{ … }} block")
        inside = bulk.filter(pl.col("voucher") >= 0)
        broken = inside.filter(pl.col("object_list").is_null())
        for line, label, rule, expected in broken.select(
            "source_line", "label", "object_rule", "object_expected"
        ).rows():
            error(line, "objects", f"{label}: {rule}", expected)
        inside = inside.filter(pl.col("object_list").is_not_null())
        empty = (pl.col("account") == "") | (pl.col("amount") == "")
        for line, label in inside.filter(empty).select("source_line", "label").rows():
            error(line, "fields", f"{label}: account or amount empty", SYNTAX[label])
        rows = pl.concat(
            [
                inside.filter(~empty).select(list(ROW_SCHEMA)).cast(ROW_SCHEMA),
                pl.DataFrame(self.rows, schema=ROW_SCHEMA, orient="row"),
            ]
        ).sort("source_line")
        # #RTRANS: a #TRANS right after it in the voucher, same account, objects and amount,
        # is its twin in the file (older readers' copy) and is skipped. A voucher's rows are
        # consecutive in file order, so "the row before in the voucher" is a plain shift.
        voucher = pl.col("voucher")
        same_voucher = voucher == voucher.shift(1)
        twin = (
            same_voucher
            & (pl.col("row_kind") == "TRANS")
            & (pl.col("row_kind").shift(1) == "RTRANS")
            & (pl.col("account") == pl.col("account").shift(1))
            & (pl.col("object_list") == pl.col("object_list").shift(1))
            & (
                (pl.col("amount") == pl.col("amount").shift(1))
                | (_exact(pl.col("amount")) == _exact(pl.col("amount").shift(1)))
            )
        ).fill_null(False)
        rows = rows.with_columns(twin.alias("twin"))
        missing = rows.filter(
            (pl.col("row_kind") == "RTRANS") & ~pl.col("twin").shift(-1).fill_null(False)
        )
        self.twins_missing = missing["source_line"].to_list()
        self.twins_skipped = int(rows["twin"].sum())
        index = pl.int_range(pl.len(), dtype=pl.Int32)
        first = pl.when(~same_voucher.fill_null(False)).then(index).forward_fill()
        self.row_frame = (
            rows.filter(~pl.col("twin"))
            .drop("twin")
            .with_columns((index - first + 1).alias("row_number"))
        )

    # -- records ------------------------------------------------------------------------------
    def _object_list(self, tokens: tuple[str, ...], line: int, label: str) -> int | None:
        """The index of an object list (parsed once per distinct list), or None on error."""
        problem = _object_problem(tokens)
        if problem is not None:
            self.errors.add(line, "objects", f"{label}: {problem[0]}", problem[1])
            return None
        return self._add_object_list(tokens)

    def _add_object_list(self, tokens: tuple[str, ...]) -> int:
        index = len(self.object_pairs)
        self.object_pairs.append(
            [(int(d), o) for d, o in zip(tokens[::2], tokens[1::2], strict=True)]
        )
        self.object_text.append("".join(tokens))
        self.object_lists[tokens] = index
        return index

    def _voucher(self, fields: list[Field], lists: int, line: int) -> int:
        """Register a voucher (also a malformed one, so that its block does not cascade into
        more errors); its index."""
        if lists:
            self.errors.add(line, "syntax", "#VER: an object list out of place", SYNTAX["#VER"])
        values = [v if type(v) is str else "" for v in fields[:5]]
        values += [""] * (5 - len(values))
        if len(fields) < 3:
            self.errors.add(line, "fields", "#VER has too few fields", SYNTAX["#VER"])
        elif not values[2]:
            self.errors.add(
                line, "date", "#VER: the voucher date is missing (field 3)", EXPECTED_DATE
            )
        series, number, date, text, regdate = values
        self.vouchers.append((series, number, date or None, text or None, regdate or None, line))
        return len(self.vouchers) - 1

    def _ksumma(self, fields: list[Field], line: int) -> bool:
        """An opening (no field) or closing ``#KSUMMA``; whether the checksum now runs."""
        ks = self.ksumma
        if not fields:  # the opening #KSUMMA
            if "open" in ks:
                self.errors.add(line, "ksumma", "a second opening #KSUMMA", "one pair of #KSUMMA")
            ks["open"] = line
            return True
        if "open" not in ks:
            self.errors.add(
                line,
                "ksumma",
                "closing #KSUMMA without an opening #KSUMMA",
                "#KSUMMA alone near the start of the file, #KSUMMA <checksum> at its end",
            )
            ks["open"] = 0
        value = fields[0]
        if type(value) is not str or not re.fullmatch(r"-?[0-9]{1,10}", value):
            self.errors.add(line, "ksumma", "#KSUMMA: the checksum is not a number", "a CRC-32")
            ks["declared"] = None
            return False
        data = self._crc_data(line).encode(self.encoding, "replace")
        ks["declared"] = int(value) & 0xFFFFFFFF
        ks["computed"] = zlib.crc32(data)
        ks["line"] = line
        if ks["open"] and ks["declared"] != ks["computed"]:
            self.errors.add(
                line,
                "ksumma",
                f"#KSUMMA does not match the file's content: the file says {ks['declared']}, "
                f"the records give {ks['computed']}",
                "the CRC-32 of the records between the two #KSUMMA (the file was changed?)",
            )
        return False

    def _crc_data(self, until: int) -> str:
        """The records #KSUMMA counts, in file order, up to line ``until``: those the loop
        read and the bulk rows within the checksum's windows."""
        line = pl.col("source_line")
        windows = [(line > start) & (line < (end or until)) for start, end in self.crc_windows]
        bulk = self.bulk_crc.filter(pl.any_horizontal(windows)) if windows else self.bulk_crc[:0]
        loop = pl.DataFrame(self.crc_parts, schema=bulk.schema, orient="row")
        return (
            pl.concat([loop, bulk]).sort("source_line", maintain_order=True)["crc"].str.join("")[0]
        )

    def _record(self, label: str, fields: list[Field], line: int) -> None:  # noqa: C901
        """Every known record other than #VER, the rows, and #KSUMMA."""
        error = self.errors.add
        at = OBJECTS_AT.get(label)  # the position of the object list
        if at is not None and len(fields) > at and type(fields[at]) is not tuple:
            fields.insert(at, ())  # SIE 1-3 style without an object list: read as {}
            self.missing_objects += 1
        if len(fields) < MIN_FIELDS.get(label, 0):
            error(line, "fields", f"{label} has too few fields", SYNTAX.get(label))
            return
        if at is not None:
            objects = fields[at]
            values = fields[:at] + fields[at + 1 :]
        else:
            objects = ()
            values = fields
        if any(type(value) is tuple for value in values):
            error(line, "syntax", f"{label}: an object list out of place", SYNTAX.get(label))
            return
        v: list[str] = [str(value) for value in values]
        head = self.head
        if label in ("#IB", "#UB", "#RES", "#OIB", "#OUB", "#PSALDO", "#PBUDGET"):
            period = v.pop(1) if label in ("#PSALDO", "#PBUDGET") else None
            index = self.object_lists.get(objects)  # type: ignore[arg-type]
            if index is None:
                index = self._object_list(objects, line, label)  # type: ignore[arg-type]
                if index is None:
                    return
            if label in ("#OIB", "#OUB") and len(self.object_pairs[index]) > 1:
                self.notes.append(f"line {line}: {label} with more than one object")
            if not v[1]:
                error(line, "fields", f"{label}: the account is empty", SYNTAX[label])
                return
            quantity = v[3] or None if len(v) > 3 else None
            self.balances.append((label[1:], v[0], period, v[1], index, v[2], quantity, line))
        elif label == "#KONTO":
            if not v[0]:
                error(line, "fields", "#KONTO: the account is empty", SYNTAX["#KONTO"])
                return
            if v[0] in self.declared:
                self.notes.append(f"line {line}: account {v[0]} is declared again (#KONTO)")
            self.declared.add(v[0])
            self._account(v[0])[0] = v[1] if len(v) > 1 else None  # more fields: ignored
        elif label == "#KTYP":
            if v[1].upper() not in ACCOUNT_TYPES:
                error(
                    line,
                    "account_type",
                    "#KTYP: the account type is not T, S, K or I",
                    "T, S, K or I",
                )
                return
            self._account(v[0])[1] = v[1].upper()
        elif label == "#SRU":
            self._account(v[0])[2] = v[1]
        elif label in ("#DIM", "#UNDERDIM"):
            dimension = _int(v[0])
            parent = _int(v[2]) if label == "#UNDERDIM" else None
            if dimension is None or (label == "#UNDERDIM" and parent is None):
                error(line, "dimension", f"{label}: a dimension is not a number", SYNTAX[label])
                return
            self.dimensions[dimension] = (v[1] if len(v) > 1 else None, parent)
        elif label == "#OBJEKT":
            dimension = _int(v[0])
            if dimension is None:
                error(line, "dimension", "#OBJEKT: the dimension is not a number", SYNTAX[label])
                return
            self.objects[(dimension, v[1])] = v[2] if len(v) > 2 else None
        elif label == "#RAR":
            self.years.append((v[0], v[1], v[2], line))
        elif label == "#PROGRAM":
            head["program"] = v[0] if v else None
            head["program_version"] = v[1] if len(v) > 1 else None
        elif label == "#FORMAT":
            head["format"] = v[0] if v else None
        elif label == "#GEN":
            head["gen"] = (v[0] if v else None, line)
        elif label == "#SIETYP":
            head["sietyp"] = v[0] if v else None
        elif label == "#FNAMN":
            if len(v) > 1:
                self.notes.append(
                    f"line {line}: #FNAMN has blanks but no quotes: its {len(v)} fields are read "
                    "as one name"
                )
            head["company_name"] = " ".join(v) or None
        elif label == "#ORGNR":
            head["org_nr"] = (v[0] if v else None, line)
        elif label == "#VALUTA":
            head["currency"] = v[0].upper() if v else None
        elif label == "#OMFATTN":
            if v and not _is_date(v[0]):
                error(line, "date", "#OMFATTN: malformed date (field 1)", EXPECTED_DATE)

    def _account(self, account: str) -> list[Any]:
        found = self.accounts.get(account)
        if found is None:
            found = self.accounts[account] = [None, None, None]
        return found

    def _control_characters(self, lines: list[str]) -> None:
        count = 0
        first: list[int] = []
        for number, line in enumerate(lines, 1):
            if _CONTROL.search(line.rstrip("\r")):
                count += 1
                if len(first) < 5:
                    first.append(number)
        if count:
            shown = ", ".join(str(n) for n in first)
            self.notes.append(
                f"control characters (not allowed by the specification) on {count} line(s): "
                f"{shown}; read as they are"
            )

    def _notes(self) -> None:
        for label, lines in sorted(self.unknown.items()):
            shown = ", ".join(str(n) for n in lines[:3])
            more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
            self.notes.append(
                f"unknown record {label} ignored ({len(lines)} line(s): {shown}{more})"
            )
        if self.missing_objects:
            self.notes.append(
                f"{self.missing_objects} record(s) without an object list {{}} (as in SIE 1-3): "
                "read as having no objects"
            )
        if self.twins_missing:
            shown = ", ".join(str(n) for n in self.twins_missing[:5])
            self.notes.append(
                f"{len(self.twins_missing)} #RTRANS row(s) not followed by their #TRANS twin "
                f"(lines {shown}): no row skipped after them"
            )

    # -- frames and the ledger rules ----------------------------------------------------------
    def build(self, declared_format: str | None) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        objects = pl.Series("objects", self._object_structs(), dtype=OBJECT_LIST)
        years = self._years()
        vouchers = self._vouchers()
        transactions = self._transactions(vouchers, objects)
        balances = self._balances(objects)
        files = self._files(declared_format)
        self._check_content(transactions, balances)
        self._check_accounts(transactions, balances)
        sums = self._check_vouchers(transactions)
        self._check_ib_ub(transactions, balances, years)
        self._check_personal_data(files, vouchers, transactions)

        accounts = pl.DataFrame(
            [(a, *values) for a, values in self.accounts.items()],
            schema=TABLE_SCHEMAS[ACCOUNTS_TABLE],
            orient="row",
        )
        dimensions = pl.DataFrame(
            [(d, name, parent) for d, (name, parent) in sorted(self.dimensions.items())],
            schema=TABLE_SCHEMAS[DIMENSIONS_TABLE],
            orient="row",
        )
        objects_table = pl.DataFrame(
            [(d, o, name) for (d, o), name in self.objects.items()],
            schema=TABLE_SCHEMAS[OBJECTS_TABLE],
            orient="row",
        )
        tables = {
            FILES_TABLE: files,
            YEARS_TABLE: years.select(TABLE_SCHEMAS[YEARS_TABLE].names()),
            ACCOUNTS_TABLE: accounts,
            DIMENSIONS_TABLE: dimensions,
            OBJECTS_TABLE: objects_table,
            BALANCES_TABLE: balances.select(TABLE_SCHEMAS[BALANCES_TABLE].names()),
            TRANSACTIONS_TABLE: transactions.select(TABLE_SCHEMAS[TRANSACTIONS_TABLE].names()),
        }
        counted = transactions.filter(pl.col("row_kind") != "BTRANS")
        year0 = self._year0_rows(counted, years)
        outside = vouchers.filter(
            pl.col("voucher_line").is_in(year0["voucher_line"].unique().implode()).not_()
            & pl.col("voucher_line").is_in(counted["voucher_line"].unique().implode())
        )
        if outside.height:
            self.notes.append(
                f"{outside.height} voucher(s) dated outside financial year 0 (first at line "
                f"{outside['voucher_line'].min()}): not in the year-0 sums nor the #IB/#UB check"
            )
        account_sums = {
            account: str(total)
            for account, total in year0.group_by("account")
            .agg(pl.col("amount").sum())
            .sort("account")
            .iter_rows()
        }
        stats = {
            "sie_type": files["sie_type"][0],
            "financial_years": [
                {"year_index": i, "start_date": _iso(s), "end_date": _iso(e)}
                for i, s, e in years.select("year_index", "start_date", "end_date")
                .sort("year_index", descending=True)
                .iter_rows()
            ],
            "vouchers": vouchers.height,
            "transaction_rows": counted.height,
            "btrans_rows": transactions.height - counted.height,
            "skipped_rtrans_twins": self.twins_skipped,
            "all_vouchers_balance": None if sums is None else sums,
            "ksumma": {
                "present": files["ksumma_present"][0],
                "valid": files["ksumma_valid"][0],
            },
            "account_sums_year0": account_sums,
        }
        return tables, stats

    def _object_structs(self) -> list[list[dict[str, Any]]]:
        return [[{"dimension": d, "object": o} for d, o in pairs] for pairs in self.object_pairs]

    def _years(self) -> pl.DataFrame:
        frame = pl.DataFrame(
            {
                "year_index": [y[0] for y in self.years],
                "start_date": [y[1] for y in self.years],
                "end_date": [y[2] for y in self.years],
                "source_line": [y[3] for y in self.years],
            },
            schema={n: pl.String for n in ("year_index", "start_date", "end_date")}
            | {"source_line": pl.Int32},
        )
        frame = self._checked(
            frame, "year_index", YEAR_INDEX, "#RAR: malformed year index (field 1)", "0, -1, -2 …"
        )
        frame = self._dates(frame, "start_date", "#RAR: malformed start date (field 2)")
        frame = self._dates(frame, "end_date", "#RAR: malformed end date (field 3)")
        frame = frame.with_columns(pl.col("year_index").cast(pl.Int32))
        for _, start, end, line in frame.iter_rows():
            if start is not None and end is not None and start > end:
                self.errors.add(line, "date", "#RAR: the year ends before it starts", "start ≤ end")
        duplicated = frame.filter(
            pl.col("year_index").is_duplicated() & pl.col("year_index").is_not_null()
        )
        for index, _, _, line in duplicated.iter_rows():
            self.errors.add(
                line, "rar", f"#RAR {index} appears more than once", "one #RAR per year"
            )
        return frame

    def _vouchers(self) -> pl.DataFrame:
        frame = _frame(
            self.vouchers,
            {
                "voucher_series": pl.String,
                "voucher_number": pl.String,
                "voucher_date": pl.String,
                "voucher_text": pl.String,
                "voucher_reg_date": pl.String,
                "voucher_line": pl.Int32,
            },
        )
        frame = self._dates(
            frame, "voucher_date", "#VER: malformed voucher date (field 3)", "voucher_line"
        )
        return self._dates(
            frame, "voucher_reg_date", "#VER: malformed registration date (field 5)", "voucher_line"
        )

    def _transactions(self, vouchers: pl.DataFrame, objects: pl.Series) -> pl.DataFrame:
        frame = self.row_frame.with_columns(pl.col("voucher").cast(pl.UInt32))
        frame = self._checked(
            frame,
            "amount",
            AMOUNT,
            "{kind}: malformed amount (field 3)",
            EXPECTED_AMOUNT,
            kind="row_kind",
        )
        frame = self._checked(
            frame,
            "quantity",
            QUANTITY_FORMAT,
            "{kind}: malformed quantity (field 6)",
            EXPECTED_QUANTITY,
            kind="row_kind",
        )
        frame = self._dates(
            frame,
            "transaction_date",
            "{kind}: malformed transaction date (field 4)",
            kind="row_kind",
        )
        frame = frame.with_columns(
            pl.col("amount").cast(MONEY),
            pl.col("quantity").cast(QUANTITY),
            objects.gather(frame["object_list"]).alias("objects"),
        )
        self._bounded(frame, "amount", AMOUNT_BOUND, "{kind}: amount (field 3)", kind="row_kind")
        self._bounded(
            frame, "quantity", QUANTITY_BOUND, "{kind}: quantity (field 6)", kind="row_kind"
        )
        return pl.concat([vouchers.gather(frame["voucher"]), frame], how="horizontal")

    def _balances(self, objects: pl.Series) -> pl.DataFrame:
        frame = _frame(
            self.balances,
            {
                "kind": pl.String,
                "year_index": pl.String,
                "period": pl.String,
                "account": pl.String,
                "object_list": pl.UInt32,
                "amount": pl.String,
                "quantity": pl.String,
                "source_line": pl.Int32,
            },
        )
        label = "{kind}"
        frame = self._checked(
            frame,
            "year_index",
            YEAR_INDEX,
            f"{label}: malformed year index (field 1)",
            "0, -1, -2 …",
            kind="kind",
        )
        frame = self._checked(
            frame,
            "period",
            PERIOD,
            f"{label}: malformed period (field 2)",
            "YYYYMM, e.g. 202301",
            kind="kind",
        )
        amount_field = (
            pl.when(pl.col("kind").is_in(["PSALDO", "PBUDGET"]))
            .then(5)
            .when(pl.col("kind").is_in(["OIB", "OUB"]))
            .then(4)
            .otherwise(3)
        )
        frame = self._checked(
            frame,
            "amount",
            AMOUNT,
            f"{label}: malformed amount (field {{field}})",
            EXPECTED_AMOUNT,
            kind="kind",
            field_no=amount_field,
        )
        frame = self._checked(
            frame,
            "quantity",
            QUANTITY_FORMAT,
            f"{label}: malformed quantity (field {{field}})",
            EXPECTED_QUANTITY,
            kind="kind",
            field_no=amount_field + 1,
        )
        frame = frame.with_columns(
            pl.col("year_index").cast(pl.Int32),
            pl.col("amount").cast(MONEY),
            pl.col("quantity").cast(QUANTITY),
            objects.gather(frame["object_list"]).alias("objects"),
        )
        rule = f"{label}: {{column}} (field {{field}})"
        self._bounded(frame, "amount", AMOUNT_BOUND, rule, kind="kind", field_no=amount_field)
        self._bounded(
            frame, "quantity", QUANTITY_BOUND, rule, kind="kind", field_no=amount_field + 1
        )
        return frame

    def _files(self, declared_format: str | None) -> pl.DataFrame:
        head = self.head
        notes = self.notes
        sietyp = head.get("sietyp")
        if sietyp is None:
            notes.append("no #SIETYP record: read as type 4")
            sietyp = "4"
        elif sietyp not in ("1", "2", "3", "4"):
            self.errors.add(None, "sietyp", "#SIETYP is not 1, 2, 3 or 4", "#SIETYP 4")
        elif sietyp != "4":
            notes.append(f"#SIETYP {sietyp}: a file without vouchers by the specification")
        suffix = self.path.suffix.upper()
        sie_type = (
            sietyp + ("E" if suffix == ".SE" else "I" if suffix == ".SI" else "")
            if sietyp == "4"
            else sietyp
        )
        generated_on = None
        gen = head.get("gen")
        if gen is not None and gen[0]:
            if _is_date(gen[0]):
                generated_on = _to_date(gen[0])
            else:
                self.errors.add(gen[1], "date", "#GEN: malformed date (field 1)", EXPECTED_DATE)
        org_nr = None
        found = head.get("org_nr")
        if found is not None and found[0]:
            value, line = found
            digits = value.replace("-", "")
            if len(digits) == 10 and digits.isascii() and digits.isdigit():
                value = f"{digits[:6]}-{digits[6:]}"
            if is_personnummer(value) or (len(digits) == 12 and is_personnummer(digits)):
                notes.append(
                    f"line {line}: #ORGNR is a personal identity number (a sole trader): not stored"
                )
            else:
                org_nr = value
                if not stdnum_orgnr.is_valid(value):
                    notes.append(f"line {line}: #ORGNR is not a valid organisation number")
        ks = self.ksumma
        present = bool(ks)
        valid = None
        if present:
            valid = (
                bool(ks.get("open"))
                and ks.get("declared") is not None
                and ks["declared"] == ks.get("computed")
            )
        return pl.DataFrame(
            [
                (
                    sie_type,
                    head.get("format", declared_format),
                    self.encoding,
                    head.get("program"),
                    head.get("program_version"),
                    generated_on,
                    head.get("company_name"),
                    org_nr,
                    head.get("currency") or "SEK",
                    present,
                    valid,
                )
            ],
            schema=TABLE_SCHEMAS[FILES_TABLE],
            orient="row",
        )

    # -- ledger rules ---------------------------------------------------------------------
    def _check_content(self, transactions: pl.DataFrame, balances: pl.DataFrame) -> None:
        """A ledger at all (voucher rows or balances; said only when nothing else is wrong,
        since broken records read as nothing), and its amounts together plausible."""
        if transactions.is_empty() and balances.is_empty():
            if self.errors.found:
                return
            self.errors.add(
                None,
                "content",
                "the file holds no voucher rows and no balances: not a ledger",
                "#VER blocks with #TRANS rows, or #IB/#UB/#RES/#PSALDO/#PBUDGET records",
            )
            return
        total = sum(
            frame.select(pl.col("amount").abs().sum()).item() or 0
            for frame in (transactions, balances)
        )
        if not TOTAL_BOUND.holds(total):
            self.errors.add(
                None,
                "content",
                "the amounts of the file add up to more than is plausible",
                TOTAL_BOUND.expected,
            )

    def _check_accounts(self, transactions: pl.DataFrame, balances: pl.DataFrame) -> None:
        if not self.declared:
            return
        declared = pl.Series(sorted(self.declared), dtype=pl.String)
        rows = pl.concat(
            [
                transactions.select(
                    "account", "source_line", label=pl.lit("#") + pl.col("row_kind")
                ),
                balances.select("account", "source_line", label=pl.lit("#") + pl.col("kind")),
            ]
        )
        undeclared = (
            rows.filter(~pl.col("account").is_in(declared.implode()))
            .group_by("account")
            .agg(pl.col("source_line").sort(), pl.col("label").unique().sort())
            .sort(pl.col("source_line").list.first())
        )
        for account, lines, labels in undeclared.iter_rows():
            shown = ", ".join(str(n) for n in lines[:5])
            more = f" (and {len(lines) - 5} more)" if len(lines) > 5 else ""
            self.errors.add(
                lines[0],
                "account",
                f"account {account} is not declared by #KONTO ({len(lines)} "
                f"{'/'.join(labels)} record{'s' if len(lines) > 1 else ''})",
                "every account used in #TRANS and balances declared by #KONTO",
                place=f"line{'s' if len(lines) > 1 else ''} {shown}{more}",
                generic="an account not declared by #KONTO",
            )

    def _check_vouchers(self, transactions: pl.DataFrame) -> bool | None:
        """Each voucher's #TRANS and #RTRANS rows sum to zero; whether all do."""
        if transactions.is_empty():
            return True
        sums = (
            transactions.filter(pl.col("row_kind") != "BTRANS")
            .group_by("voucher_line")
            .agg(
                pl.col("amount").sum().alias("total"),
                pl.col("amount").null_count().alias("bad"),
                pl.first("voucher_series", "voucher_number"),
            )
        )
        # a voucher whose block was never closed is reported as such, not as unbalanced
        complete = ~pl.col("voucher_line").is_in(pl.Series(self.unclosed, dtype=pl.Int32).implode())
        unbalanced = sums.filter((pl.col("bad") == 0) & (pl.col("total") != 0) & complete)
        unbalanced = unbalanced.sort("voucher_line")
        for line, total, _, series, number in unbalanced.iter_rows():
            self.errors.add(
                line,
                "voucher_balance",
                f"voucher {_voucher_name(series, number)} (#VER at line {line}) does not "
                f"balance: its #TRANS/#RTRANS rows sum to {total}",
                "the amounts of a voucher's rows sum to 0.00",
                generic="a voucher that does not balance",
            )
        if sums.filter(pl.col("bad") > 0).height:
            return None  # unknown: some amounts could not be read
        return unbalanced.is_empty()

    def _year0_rows(self, counted: pl.DataFrame, years: pl.DataFrame) -> pl.DataFrame:
        year0 = years.filter(pl.col("year_index") == 0)
        if year0.height != 1 or year0["start_date"][0] is None or year0["end_date"][0] is None:
            return counted
        start, end = year0["start_date"][0], year0["end_date"][0]
        return counted.filter(pl.col("voucher_date").is_between(start, end))

    def _check_ib_ub(
        self, transactions: pl.DataFrame, balances: pl.DataFrame, years: pl.DataFrame
    ) -> None:
        """Opening balance + the year's transactions = closing balance (classes 1-2)."""
        year0 = self._year0_rows(transactions.filter(pl.col("row_kind") != "BTRANS"), years)
        sums = year0.group_by("account").agg(pl.col("amount").sum().alias("moved"))

        def first(kind: str) -> pl.DataFrame:
            return (
                balances.filter((pl.col("kind") == kind) & (pl.col("year_index") == 0))
                .group_by("account")
                .agg(
                    pl.first("amount").alias(kind.lower()),
                    pl.first("source_line").alias(f"{kind.lower()}_line"),
                )
            )

        checked = (
            first("IB")
            .join(first("UB"), on="account")
            .filter(pl.col("account").str.slice(0, 1).is_in(["1", "2"]))
            .join(sums, on="account", how="left")
            .with_columns(pl.col("moved").fill_null(0).cast(MONEY))
            .filter(pl.col("ib").is_not_null() & pl.col("ub").is_not_null())
            .filter(pl.col("ib") + pl.col("moved") != pl.col("ub"))
            .sort("ub_line")
        )
        if checked.height and year0["amount"].null_count():
            return  # amounts that could not be read are reported already
        for account, ib, ib_line, ub, ub_line, moved in checked.select(
            "account", "ib", "ib_line", "ub", "ub_line", "moved"
        ).iter_rows():
            self.errors.add(
                ub_line,
                "ib_ub",
                f"account {account}: opening balance {ib} (#IB 0, line {ib_line}) + the year's "
                f"transactions {moved} = {ib + moved}, but the closing balance (#UB 0) is {ub}",
                "#IB + the year's #TRANS/#RTRANS rows = #UB for each balance-sheet account",
                generic="opening balance + transactions ≠ closing balance",
            )

    def _check_personal_data(
        self, files: pl.DataFrame, vouchers: pl.DataFrame, transactions: pl.DataFrame
    ) -> None:
        """Texts that hold a personal identity number (never loaded; the file is rejected)."""
        checks: list[tuple[pl.DataFrame, list[str], str]] = [
            (vouchers, ["voucher_text", "voucher_series", "voucher_number"], "voucher_line"),
            (transactions, ["transaction_text", "sign"], "source_line"),
        ]
        for frame, columns, line_column in checks:
            for row, column in find_personnummer(frame, columns):
                self.errors.add(
                    frame[line_column][row],
                    "personal_data",
                    f"personal identity number in the file ({column.replace('_', ' ')})",
                    "no personal identity numbers in ledger texts",
                    generic="personal identity number in the file",
                    personal_data=True,
                )
        names = [
            ("company name (#FNAMN)", files["company_name"][0]),
            *((f"name of account {a} (#KONTO)", v[0]) for a, v in self.accounts.items()),
            *((f"name of object {o} (#OBJEKT)", n) for (_, o), n in self.objects.items()),
        ]
        for what, text in names:
            if text and contains_personnummer(text):
                self.errors.add(
                    None,
                    "personal_data",
                    f"personal identity number in the file ({what})",
                    "no personal identity numbers in the file",
                    generic="personal identity number in the file",
                    personal_data=True,
                )

    # -- vectorised value checks -----------------------------------------------------------
    def _checked(
        self,
        frame: pl.DataFrame,
        column: str,
        pattern: str,
        rule: str,
        expected: str,
        line_column: str = "source_line",
        *,
        kind: str | None = None,
        field_no: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Report the non-null values of ``column`` not matching ``pattern`` and null them."""
        bad = pl.col(column).is_not_null() & ~pl.col(column).str.contains(pattern)
        found = frame.filter(bad)
        if found.height:
            self._report(found, f"value_{column}", rule, expected, line_column, kind, field_no)
            frame = frame.with_columns(
                pl.when(bad).then(None).otherwise(pl.col(column)).alias(column)
            )
        return frame

    def _bounded(
        self,
        frame: pl.DataFrame,
        column: str,
        bound: Bound,
        place: str,
        *,
        kind: str,
        field_no: pl.Expr | None = None,
    ) -> None:
        """Report the values of ``column`` outside ``bound``; ``place`` names the record and
        field (``{kind}``, ``{field}``, ``{column}``)."""
        found = frame.filter(bound.outside(pl.col(column)).fill_null(False))
        if found.height:
            rule = place.replace("{column}", column) + " outside the plausible range"
            self._report(
                found, f"bound_{column}", rule, bound.expected, "source_line", kind, field_no
            )

    def _report(
        self,
        found: pl.DataFrame,
        key: str,
        rule: str,
        expected: str,
        line_column: str,
        kind: str | None,
        field_no: pl.Expr | None,
    ) -> None:
        """One error per row of ``found``: ``rule`` with ``{kind}`` (the record) and ``{field}``
        (its field number) filled in per row."""
        extra = [pl.col(kind).alias("_kind") if kind else pl.lit(None).alias("_kind")]
        extra.append(
            field_no.alias("_field") if field_no is not None else pl.lit(None).alias("_field")
        )
        for line, k, f in found.select(line_column, *extra).iter_rows():
            self.errors.add(line, key, rule.format(kind=f"#{k}", field=f), expected)

    def _dates(
        self,
        frame: pl.DataFrame,
        column: str,
        rule: str,
        line_column: str = "source_line",
        *,
        kind: str | None = None,
    ) -> pl.DataFrame:
        parsed = pl.col(column).str.strptime(pl.Date, "%Y%m%d", strict=False)
        good = pl.col(column).str.contains(DATE) & parsed.is_not_null()
        bad = pl.col(column).is_not_null() & ~good
        found = frame.filter(bad)
        for line, k in found.select(
            line_column, pl.col(kind) if kind else pl.lit(None)
        ).iter_rows():
            text = rule.format(kind=f"#{k}") if kind else rule
            self.errors.add(line, "date", text, EXPECTED_DATE, generic="malformed date")
        return frame.with_columns(pl.when(good).then(parsed).otherwise(None).alias(column))


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _frame(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def _int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else None


def _is_date(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{8}", value)) and _to_date(value) is not None


def _to_date(value: str) -> Any:
    from datetime import date

    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _voucher_name(series: str | None, number: str | None) -> str:
    name = " ".join(v for v in (series, number) if v)
    return name or "(no series or number)"


def _stats_from_tables(tables: dict[str, Any]) -> dict[str, Any]:
    """The summary's counts from the tables of an accepted file (when no stats were kept)."""
    files = tables.get(FILES_TABLE)
    transactions = tables.get(TRANSACTIONS_TABLE)
    years = tables.get(YEARS_TABLE)
    stats: dict[str, Any] = {}
    if isinstance(files, pl.DataFrame) and files.height:
        stats["sie_type"] = files["sie_type"][0]
        stats["encoding"] = files["encoding"][0]
        stats["ksumma"] = {"present": files["ksumma_present"][0], "valid": files["ksumma_valid"][0]}
    if isinstance(years, pl.DataFrame):
        stats["financial_years"] = [
            {"year_index": i, "start_date": _iso(s), "end_date": _iso(e)}
            for i, s, e in years.sort("year_index", descending=True).iter_rows()
        ]
    if isinstance(transactions, pl.DataFrame):
        counted = transactions.filter(pl.col("row_kind") != "BTRANS")
        stats["vouchers"] = transactions["voucher_line"].n_unique()
        stats["transaction_rows"] = counted.height
        stats["btrans_rows"] = transactions.height - counted.height
        stats["all_vouchers_balance"] = True
        stats["account_sums_year0"] = {
            a: str(s)
            for a, s in counted.group_by("account")
            .agg(pl.col("amount").sum())
            .sort("account")
            .iter_rows()
        }
    return stats
