"""Editing lines of a comma-separated register file in tests (KSON's register CSVs)."""

import csv
import io


def fields(line: str) -> list[str]:
    return next(csv.reader([line]))


def joined(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def edited(lines: list[str], line: int, **values: str) -> list[str]:
    """A copy of ``lines`` with fields of file line ``line`` replaced (CSV-quoted as needed)."""
    header = lines[0].split(",")
    row = fields(lines[line - 1])
    for column, value in values.items():
        row[header.index(column)] = value
    copy = list(lines)
    copy[line - 1] = joined(row)
    return copy
