"""The source families the platform ingests. Adding a family = one module + one entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest import kolada
from ingest.validation import ReadResult


@dataclass(frozen=True)
class SourceFamily:
    """A kind of input: where its files land, how they are read, which raw tables they fill."""

    name: str
    title: str
    read: Callable[[Path], ReadResult]
    accepts: Callable[[Path], bool]
    tables: Mapping[str, pl.Schema]
    patterns: tuple[str, ...]

    def landing_files(self, landing_dir: Path) -> list[Path]:
        """The files waiting in ``<landing_dir>/<name>/``, in name order."""
        folder = landing_dir / self.name
        found = {p for pattern in self.patterns for p in folder.rglob(pattern) if p.is_file()}
        return sorted(found)


FAMILIES: dict[str, SourceFamily] = {
    family.name: family
    for family in (
        SourceFamily(
            name=kolada.SOURCE,
            title="Kolada KPI responses: Socialstyrelsen's user survey and benchmarks",
            read=kolada.read,
            accepts=kolada.accepts,
            tables=kolada.TABLE_SCHEMAS,
            patterns=("*.json",),
        ),
    )
}


def family_for(path: Path) -> SourceFamily | None:
    """The family of a file: by its landing folder's name, else by its content."""
    for parent in path.parents:
        if parent.name in FAMILIES:
            return FAMILIES[parent.name]
    return next((family for family in FAMILIES.values() if family.accepts(path)), None)
