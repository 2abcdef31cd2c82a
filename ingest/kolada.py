"""Kolada API responses (survey results and other municipal KPIs) → raw tables.

One landing file holds one API response, saved as it came: a data response
(``/v3/data/kpi/{ids}/municipality/{ids}/year/{years}``, or ``/v3/oudata/...`` for units), a
KPI metadata response (``/v3/kpi/{ids}``), a municipality response (``/v3/municipality``) or a
group response (``/v3/municipality_groups``, whose file name carries the fetch date). v2
responses (``next_page`` instead of ``next_url``) read the same way. A paged answer is several
files, one per page. See ``docs/contracts/kolada.md`` for the contract and the rules checked
here.

Every key and string of the document, and every integer written with 9, 10 or 12 digits, is
checked for personal identity numbers first (:mod:`ingest.pii`): Kolada publishes aggregates,
so one is never expected; the file is rejected and its place named by its JSON path.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from ingest import reference
from ingest.pii import (
    RULE_PERSONNUMMER,
    RULE_WITHOUT_ZERO,
    contains_personnummer,
    is_personnummer,
    is_personnummer_without_leading_zero,
)
from ingest.validation import Bound, ErrorCollector, ReadResult

SOURCE = "kolada"

VALUES_TABLE = "kolada_values"
KPIS_TABLE = "kolada_kpis"
MUNICIPALITIES_TABLE = "kolada_municipalities"
GROUPS_TABLE = "kolada_municipality_groups"

VALUES_SCHEMA = pl.Schema(
    {
        "kpi_id": pl.String,
        "municipality_id": pl.String,
        "ou_id": pl.String,
        "period": pl.Int32,
        "gender": pl.String,
        "value": pl.Float64,
        "count": pl.Int32,
        "status": pl.String,
        "is_deleted": pl.Boolean,
    }
)
KPIS_SCHEMA = pl.Schema(
    {
        "kpi_id": pl.String,
        "title": pl.String,
        "description": pl.String,
        "is_divided_by_gender": pl.Boolean,
        "has_ou_data": pl.Boolean,
        "operating_area": pl.String,
        "publ_period": pl.String,
        "publication_date": pl.String,
    }
)
MUNICIPALITIES_SCHEMA = pl.Schema(
    {"municipality_id": pl.String, "title": pl.String, "type": pl.String}
)
GROUPS_SCHEMA = pl.Schema(
    {
        "group_id": pl.String,
        "title": pl.String,
        "member_id": pl.String,
        "member_title": pl.String,
        "fetched_on": pl.Date,
    }
)
TABLE_SCHEMAS = {
    VALUES_TABLE: VALUES_SCHEMA,
    KPIS_TABLE: KPIS_SCHEMA,
    MUNICIPALITIES_TABLE: MUNICIPALITIES_SCHEMA,
    GROUPS_TABLE: GROUPS_SCHEMA,
}

KPI_ID = re.compile(r"^[A-Z]\d{5}$")
MUNICIPALITY_ID = re.compile(r"^(\d{4}|G\d+)$")
FOUR_DIGITS = re.compile(r"\d{4}")
GROUP_ID = re.compile(r"G\d{1,9}")
MUNICIPALITY_TYPES = {"K", "L"}  # kommun; region (landsting), and 0000 Riket
# The fetch date in a group response's file name: Kolada's answer carries none.
FETCH_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
GENDERS = {"T", "K", "M"}
# A key shown in a JSON path as it is; any other (it could hold personal data) is shown by its
# position in its object, e.g. ``values[0].<key 3>``.
PLAIN_KEY = re.compile(r"[A-Za-z_]{1,64}")
EXPECTED_PII = "no personal identity numbers (Kolada publishes aggregates only)"

# Plausible ranges (docs/contracts/kolada.md, "Bounds"): the survey's shares and respondents,
# any other KPI's value (SEK, per inhabitant, …), and count (a group's members).
SHARE = Bound(0, 100, "per cent")
RESPONDENTS = Bound(0, 1_000_000, "respondents")
OTHER_VALUE = Bound(-(10**13), 10**13, "in the KPI's unit")
COUNT = Bound(0, 1_000, "members of a group (0 or 1 for one municipality or unit)")


def accepts(path: Path) -> bool:
    """Whether ``path`` looks like a Kolada response (used by ``kson validate``)."""
    if path.suffix.lower() != ".json":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096)
    return b'"values"' in head


def read(path: Path) -> ReadResult:
    """Parse and validate one Kolada response file. It counts as scanned for personal
    identity numbers once it parses as JSON."""
    errors = ErrorCollector(Path(path).name)
    try:
        document = json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        errors.add(f"byte {error.start}", "file is not UTF-8", "UTF-8 JSON")
    except json.JSONDecodeError as error:
        errors.add(f"line {error.lineno}, column {error.colno}", f"not valid JSON: {error.msg}")
    except ValueError:  # Python refuses integers of more than 4300 digits
        errors.add("file", "a number too long to read", "numbers of at most 4300 digits")
    except RecursionError:
        errors.add("file", "JSON nested too deeply to read", "a Kolada response (4 levels deep)")
    if errors:
        return ReadResult(errors=errors.finish())
    _scan(document, errors)
    if errors:
        return ReadResult(errors=errors.finish(), scanned=True)
    if not isinstance(document, dict) or not isinstance(document.get("values"), list):
        errors.add("$", "no 'values' list at the top level", '{"values": [...]}')
        return ReadResult(errors=errors.finish(), scanned=True)

    rows = document["values"]
    result = ReadResult(scanned=True)
    next_page = document.get("next_url", document.get("next_page"))
    if next_page and isinstance(next_page, str):
        result.notes.append(f"paged response: the next page is {next_page}")
    if not rows:
        result.tables[VALUES_TABLE] = pl.DataFrame(schema=VALUES_SCHEMA)
        return result
    table = _kind(rows)
    if table == GROUPS_TABLE:
        out = _read_groups(rows, Path(path).name, errors)
    elif table == MUNICIPALITIES_TABLE:
        out = _read_municipalities(rows, errors)
    elif table == KPIS_TABLE:
        out = _read_kpis(rows, errors)
    else:
        out = _read_values(rows, errors)
    schema = TABLE_SCHEMAS[table]
    if errors:
        result.errors = errors.finish()
    else:
        result.tables[table] = pl.DataFrame(out, schema=schema, orient="row")
    return result


def _kind(rows: list[Any]) -> str:
    """Which response the rows are, by the keys of the first object: a group (``members``), a
    municipality (``id`` and ``type``), a KPI's metadata (``id``) or a data row."""
    first = next((row for row in rows if isinstance(row, dict)), {})
    if "members" in first:
        return GROUPS_TABLE
    if "kpi" in first or "id" not in first:
        return VALUES_TABLE
    return MUNICIPALITIES_TABLE if "type" in first else KPIS_TABLE


def _scan(document: Any, errors: ErrorCollector) -> None:
    """Check every key and string of ``document``, and every integer written with 9, 10 or 12
    digits, for personal identity numbers, in document order. A 9-digit text or integer is one
    whose leading zero was dropped, except an integer under the key ``value`` (a KPI's figure
    can be of any size)."""
    # (path, the key it is under or None, the node)
    stack: list[tuple[str, str | None, Any]] = [("$", None, document)]
    while stack:  # not recursive: the parser allows deeper documents than a recursion would
        at, key, node = stack.pop()
        if key is not None:
            _check_text(key, at, errors)
        if isinstance(node, dict):
            children = []
            for n, (inner, value) in enumerate(node.items(), 1):
                name = inner if PLAIN_KEY.fullmatch(inner) else f"<key {n}>"
                children.append((name if at == "$" else f"{at}.{name}", inner, value))
            stack += reversed(children)
        elif isinstance(node, list):
            stack += reversed([(f"{at}[{i}]", None, item) for i, item in enumerate(node)])
        elif isinstance(node, str):
            _check_text(node, at, errors)
        elif _is_int(node):
            digits = str(node)
            if is_personnummer(digits):
                errors.add(at, RULE_PERSONNUMMER, EXPECTED_PII)
            elif not at.endswith(".value") and is_personnummer_without_leading_zero(digits):
                errors.add(at, RULE_WITHOUT_ZERO, EXPECTED_PII)


def _check_text(text: str, at: str, errors: ErrorCollector) -> None:
    if contains_personnummer(text):
        errors.add(at, RULE_PERSONNUMMER, EXPECTED_PII)
    elif is_personnummer_without_leading_zero(text):
        errors.add(at, RULE_WITHOUT_ZERO, EXPECTED_PII)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _flag(value: Any) -> bool | None:
    """A metadata or deletion flag: true/false (v3), 1/0 (v2) or null; anything else raises
    ``ValueError``."""
    if value is None or isinstance(value, bool):
        return value
    if _is_int(value) and value in (0, 1):
        return bool(value)
    raise ValueError(value)


def _value_bound(kpi: Any) -> Bound:
    """The range of a KPI's values: the survey mart's shares and respondents have their own."""
    kind = reference.survey_kpis().get(kpi) if isinstance(kpi, str) else None
    return SHARE if kind == "share" else RESPONDENTS if kind == "respondents" else OTHER_VALUE


def _read_values(rows: list[Any], errors: ErrorCollector) -> list[tuple]:
    out: list[tuple] = []
    seen: set[tuple] = set()
    error = errors.add
    for i, row in enumerate(rows):
        at = f"values[{i}]"
        if not isinstance(row, dict):
            error(at, "entry is not an object")
            continue
        kpi, period = row.get("kpi"), row.get("period")
        municipality, ou = row.get("municipality"), row.get("ou")
        if not isinstance(kpi, str) or not KPI_ID.match(kpi):
            error(
                f"{at}.kpi", "missing or malformed KPI id", "a letter and five digits, e.g. U21468"
            )
        if not _is_int(period) or not 1990 <= period <= 2100:
            error(f"{at}.period", "missing or malformed period", "a year as an integer, e.g. 2023")
        if (municipality is None) == (ou is None):
            error(at, "needs exactly one of 'municipality' and 'ou'")
        elif municipality is not None and (
            not isinstance(municipality, str) or not MUNICIPALITY_ID.match(municipality)
        ):
            error(f"{at}.municipality", "malformed municipality id", "4 digits or a group id G…")
        elif ou is not None and (not isinstance(ou, str) or not ou):
            error(f"{at}.ou", "malformed unit (ou) id", "a non-empty string")
        deleted_key = "isdeleted" if "isdeleted" in row else "is_deleted"
        try:
            is_deleted = bool(_flag(row.get(deleted_key)))
        except ValueError:
            error(f"{at}.{deleted_key}", "deletion flag is not true or false", "true or false")
            is_deleted = False
        cells = row.get("values")
        if not isinstance(cells, list) or not cells:
            error(f"{at}.values", "missing or empty list of values", "[{gender, count, value}]")
            continue
        bound = _value_bound(kpi)
        for j, cell in enumerate(cells):
            cat = f"{at}.values[{j}]"
            if not isinstance(cell, dict):
                error(cat, "value entry is not an object")
                continue
            gender, value, count = cell.get("gender"), cell.get("value"), cell.get("count")
            status = cell.get("status", "")
            if not isinstance(gender, str) or gender not in GENDERS:
                error(f"{cat}.gender", "unknown gender code", "T, K or M")
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    error(f"{cat}.value", "value is neither a number nor null", "a number or null")
                elif isinstance(value, float) and not math.isfinite(value):
                    error(f"{cat}.value", "value is NaN or infinite", bound.expected)
                elif not bound.holds(value):
                    error(f"{cat}.value", Bound.RULE, bound.expected)
                else:
                    value = float(value)
            if count is not None and (not _is_int(count) or count < 0):
                error(f"{cat}.count", "count is not a non-negative integer", COUNT.expected)
            elif count is not None and not COUNT.holds(count):
                error(f"{cat}.count", Bound.RULE, COUNT.expected)
            if status is not None and not isinstance(status, str):
                error(f"{cat}.status", "status is not a string")
            key = (kpi, municipality, ou, period, gender)
            if all(isinstance(part, str | int | None) for part in key):  # else reported above
                if key in seen:
                    error(cat, "the same KPI, area, period and gender appears twice in the file")
                seen.add(key)
            out.append(
                (kpi, municipality, ou, period, gender, value, count, status or None, is_deleted)
            )
    return out


def _read_municipalities(rows: list[Any], errors: ErrorCollector) -> list[tuple]:
    out: list[tuple] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"values[{i}]"
        if not isinstance(row, dict):
            errors.add(at, "entry is not an object")
            continue
        municipality, title, kind = row.get("id"), row.get("title"), row.get("type")
        _check_id(municipality, FOUR_DIGITS, "municipality", "the file", seen, f"{at}.id", errors)
        _check_title(title, "municipality", f"{at}.title", errors)
        if kind not in MUNICIPALITY_TYPES:
            errors.add(f"{at}.type", "unknown municipality type", "K (kommun) or L (region)")
        out.append((municipality, title, kind))
    return out


ID_FORMS = {FOUR_DIGITS: "4 digits, e.g. 0188", GROUP_ID: "G and digits, e.g. G176641"}


def _check_id(
    value: Any,
    pattern: re.Pattern[str],
    kind: str,
    within: str,
    seen: set[str],
    place: str,
    errors: ErrorCollector,
) -> None:
    """A municipality, group or member id: well formed and once ``within`` the file or group
    (``seen`` collects the ids)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        errors.add(place, f"malformed {kind} id", ID_FORMS[pattern])
    elif value in seen:
        errors.add(place, f"the same {kind} appears twice in {within}")
    else:
        seen.add(value)


def _check_title(value: Any, kind: str, place: str, errors: ErrorCollector) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.add(place, f"missing {kind} title")


def _fetch_date(name: str) -> date | None:
    found = FETCH_DATE.search(name)
    try:
        return date.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None


def _read_groups(rows: list[Any], name: str, errors: ErrorCollector) -> list[tuple]:
    """One row per group and member; the fetch date comes from the file's name."""
    fetched_on = _fetch_date(name)
    if fetched_on is None:
        errors.add(
            "file name",
            "a municipality group response's name carries no fetch date",
            "the date of the fetch in the name, e.g. municipality_groups_2024-01-15.json",
        )
    out: list[tuple] = []
    groups: set[str] = set()
    for i, row in enumerate(rows):
        at = f"values[{i}]"
        if not isinstance(row, dict):
            errors.add(at, "entry is not an object")
            continue
        group, title, members = row.get("id"), row.get("title"), row.get("members")
        _check_id(group, GROUP_ID, "group", "the file", groups, f"{at}.id", errors)
        _check_title(title, "group", f"{at}.title", errors)
        if not isinstance(members, list):
            errors.add(f"{at}.members", "members is not a list", "[{member_id, member_title}]")
            continue
        seen: set[str] = set()
        for j, member in enumerate(members):
            mat = f"{at}.members[{j}]"
            if not isinstance(member, dict):
                errors.add(mat, "member is not an object", "{member_id, member_title}")
                continue
            member_id, member_title = member.get("member_id"), member.get("member_title")
            _check_id(
                member_id, FOUR_DIGITS, "member", "the group", seen, f"{mat}.member_id", errors
            )
            if not isinstance(member_title, str | None):
                errors.add(f"{mat}.member_title", "member_title is not text", "a string")
            out.append((group, title, member_id, member_title, fetched_on))
    return out


def _read_kpis(rows: list[Any], errors: ErrorCollector) -> list[tuple]:
    out: list[tuple] = []
    for i, row in enumerate(rows):
        at = f"values[{i}]"
        if not isinstance(row, dict):
            errors.add(at, "entry is not an object")
            continue
        kpi, title = row.get("id"), row.get("title")
        if not isinstance(kpi, str) or not KPI_ID.match(kpi):
            errors.add(
                f"{at}.id", "missing or malformed KPI id", "a letter and five digits, e.g. U21468"
            )
        if not isinstance(title, str) or not title.strip():
            errors.add(f"{at}.title", "missing KPI title")
        flags = []
        for key in ("is_divided_by_gender", "has_ou_data"):
            try:
                flags.append(_flag(row.get(key)))
            except ValueError:
                errors.add(f"{at}.{key}", f"{key} is not true or false", "true, false or null")
        for key in ("description", "operating_area", "publication_date"):
            if not isinstance(row.get(key), str | None):
                errors.add(f"{at}.{key}", f"{key} is not text", "a string or null")
        period = row.get("publ_period")
        if not (period is None or isinstance(period, str) or _is_int(period)):
            errors.add(f"{at}.publ_period", "publ_period is not text", 'a year, e.g. "2026"')
        if errors:
            continue
        out.append(
            (
                kpi,
                title,
                row.get("description"),
                *flags,
                row.get("operating_area"),
                None if period is None else str(period),
                row.get("publication_date"),
            )
        )
    return out
