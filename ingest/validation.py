"""What every reader returns: validated tables plus the errors found, and the error report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class ValidationError:
    """One broken rule in one input file.

    ``place`` says where, in the terms of the format: ``line 12``, ``sheet Rapport, row 9,
    column E`` or a JSON path such as ``values[3].values[0].gender``. ``expected`` says what a
    valid value looks like. Never put the offending value itself here when it may be personal
    data.
    """

    file: str
    place: str
    rule: str
    expected: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.place}: {self.rule}"
        return f"{text} (expected: {self.expected})" if self.expected else text


@dataclass
class ReadResult:
    """A reader's answer: one polars frame per raw table, or the errors that reject the file.

    A file is accepted whole or not at all: when ``errors`` is non-empty, ``tables`` must not
    be loaded.
    """

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: list[ValidationError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def row_count(self) -> int:
        return sum(frame.height for frame in self.tables.values())


def format_report(path: Path, source: str, errors: list[ValidationError], limit: int = 200) -> str:
    """A plain-text error report that a data provider can act on."""
    lines = [
        f"File:   {path.name}",
        f"Source: {source}",
        f"Result: rejected, {len(errors)} error(s)",
        "",
    ]
    lines += [
        f"- {error.place}: {error.rule}"
        + (f" (expected: {error.expected})" if error.expected else "")
        for error in errors[:limit]
    ]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "\n".join(lines) + "\n"
