"""Kolada's reader with a rule that today's contract does not have, for the replay test (a
module of its own: the worker processes that read files import it by name)."""

from pathlib import Path

import polars as pl

from ingest.kolada import VALUES_TABLE
from ingest.kolada import read as read_kolada
from ingest.validation import ReadResult, ValidationError

STRICTER_RULE = "a second page is no longer accepted"


def read_stricter(path: Path) -> ReadResult:
    """Rejects a file named ``*_page2.json``; elsewhere each value reads as 1 more than today."""
    result = read_kolada(path)
    if path.name.endswith("_page2.json"):
        return ReadResult(errors=[ValidationError(path.name, "file", STRICTER_RULE)], scanned=True)
    if VALUES_TABLE in result.tables:
        values = result.tables[VALUES_TABLE]
        result.tables[VALUES_TABLE] = values.with_columns(pl.col("value") + 1)
    return result
