"""The source families the platform ingests. Adding a family = one module + one entry here."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest import (
    budget,
    contract_followup,
    health_care_volumes,
    kolada,
    manual_indicators,
    provider_reports,
    sie,
    visit_logs,
)
from ingest.validation import ReadResult


@dataclass(frozen=True)
class SourceFamily:
    """A kind of input: where its files land, how they are read, which raw tables they fill."""

    name: str
    title: str
    read: Callable[[Path], ReadResult]
    accepts: Callable[[Path], bool]
    tables: Mapping[str, pl.Schema]
    patterns: tuple[str, ...]  # file-name patterns, matched case-insensitively (.SE = .se)
    summarize: Callable[[ReadResult], dict] | None = None  # extra facts for validate --json
    # read takes ``staging=FOLDER``, where it keeps an accepted file's rows for the load
    stages: bool = False

    def landing_files(self, landing_dir: Path) -> list[Path]:
        """The files waiting in ``<landing_dir>/<name>/``, in name order."""
        folder = landing_dir / self.name
        return sorted(
            path
            for path in folder.rglob("*")
            if path.is_file()
            and any(fnmatch.fnmatchcase(path.name.casefold(), p) for p in self.patterns)
        )


# The order matters where a file's family is guessed from its content (family_for): a family
# whose files are told apart by name (budget_<YYYY>.xlsx) comes before one that takes any
# .xlsx (the providers' reports).
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
        SourceFamily(
            name=manual_indicators.SOURCE,
            title="The board's indicators reported by KSON's units (Excel or Swedish Excel CSV)",
            read=manual_indicators.read,
            accepts=manual_indicators.accepts,
            tables=manual_indicators.TABLE_SCHEMAS,
            patterns=("*.xlsx", "*.csv"),
        ),
        SourceFamily(
            name=budget.SOURCE,
            title="Budget per year, month, account and activity (Excel or Swedish Excel CSV)",
            read=budget.read,
            accepts=budget.accepts,
            tables=budget.TABLE_SCHEMAS,
            patterns=("*.xlsx", "*.csv"),
        ),
        SourceFamily(
            name=provider_reports.SOURCE,
            title="Providers' monthly reports (Excel template or Swedish Excel CSV)",
            read=provider_reports.read,
            accepts=provider_reports.accepts,
            tables=provider_reports.TABLE_SCHEMAS,
            patterns=("*.xlsx", "*.csv"),
        ),
        SourceFamily(
            name=visit_logs.SOURCE,
            title="Home-care visit logs from the providers' time-tracking systems",
            read=visit_logs.read,
            accepts=visit_logs.accepts,
            tables=visit_logs.TABLE_SCHEMAS,
            patterns=("*.csv",),
            stages=True,
        ),
        SourceFamily(
            name=health_care_volumes.SOURCE,
            title="Visits and performed hours of basal hemsjukvård and hemrehabilitering",
            read=health_care_volumes.read,
            accepts=health_care_volumes.accepts,
            tables=health_care_volumes.TABLE_SCHEMAS,
            patterns=("*.csv",),
        ),
        SourceFamily(
            name=contract_followup.FOLLOWUP_SOURCE,
            title="Annual contract follow-up (årlig avtalsuppföljning)",
            read=contract_followup.read_followup,
            accepts=contract_followup.accepts_followup,
            tables=contract_followup.FOLLOWUP_SCHEMAS,
            patterns=("*.csv",),
        ),
        SourceFamily(
            name=contract_followup.PLANS_SOURCE,
            title="Action plans (åtgärdsplaner) and their status history",
            read=contract_followup.read_plans,
            accepts=contract_followup.accepts_plans,
            tables=contract_followup.PLANS_SCHEMAS,
            patterns=("*.csv",),
        ),
        SourceFamily(
            name=sie.SOURCE,
            title="General ledger and budget as SIE 4 files (huvudbok)",
            read=sie.read,
            accepts=sie.accepts,
            tables=sie.TABLE_SCHEMAS,
            patterns=("*.se", "*.si", "*.sie"),
            summarize=sie.summary,
            stages=True,
        ),
    )
}


def family_for(path: Path) -> SourceFamily | None:
    """The family of a file: by its landing folder's name, else by its content."""
    for parent in path.parents:
        if parent.name in FAMILIES:
            return FAMILIES[parent.name]
    return next((family for family in FAMILIES.values() if family.accepts(path)), None)


def guess_family(path: Path) -> str | None:
    """The name of :func:`family_for`'s family (to be run in a worker process, see
    ``ingest.isolation``: guessing reads untrusted bytes)."""
    family = family_for(path)
    return family.name if family else None


@dataclass
class Inspection:
    """What ``kson validate`` reports on a file: the reader's result and the family's summary."""

    result: ReadResult
    summary: dict | None = None


def inspect(path: Path, source: str) -> Inspection:
    """Read ``path`` as a file of family ``source`` (in a worker process, like the guess)."""
    family = FAMILIES[source]
    result = family.read(path)
    return Inspection(result, family.summarize(result) if family.summarize else None)
