"""Run a suite on an in-memory frame with GX's pandas data source; summarise the failures.

Each suite's latest result is kept in the (in-memory) context, and :func:`build_data_docs`
renders the results kept since its last call as GX Data Docs (static HTML).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.data_context.types.resource_identifiers import (  # noqa: E402
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)

EXAMPLE_ROWS = 5
DATA_DOCS_SITE = "kson"

# Per suite, the key of its result in the context's store since the last Data Docs build.
_validated: dict[str, ValidationResultIdentifier] = {}


@dataclass
class SuiteOutcome:
    suite: str
    evaluated: int
    failures: list[str] = field(default_factory=list)
    failing_rows: int = 0  # rows that break at least one row-level expectation

    @property
    def success(self) -> bool:
        return not self.failures


@cache
def _context() -> gx.data_context.AbstractDataContext:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def describe(config: ExpectationConfiguration) -> str:
    """An expectation as failures name it: ``type(kwarg=value, …)``."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def validate_frame(
    frame: pd.DataFrame,
    suite: gx.ExpectationSuite,
    key_columns: list[str] | None = None,
    run: RunIdentifier | None = None,
) -> SuiteOutcome:
    """Validate ``frame`` against ``suite``; each failure names the expectation and up to
    five example rows (their ``key_columns``, or the whole row) that break it. The result is
    kept for the Data Docs under ``run`` (the Dagster run's id and start)."""
    context = _context()
    source = context.data_sources.add_or_update_pandas(f"kson_{suite.name}")
    asset = source.add_dataframe_asset(name=suite.name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    _keep(suite.name, result, run or RunIdentifier("kson"))
    outcome = SuiteOutcome(suite=suite.name, evaluated=len(result.results))
    failing: set[int] = set()
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        text = describe(config)
        details = item.result or {}
        if "unexpected_count" in details:
            text += f": {details['unexpected_count']} of {details.get('element_count')} rows fail"
        elif "observed_value" in details:
            text += f": observed {details['observed_value']!r}"
        indexes = details.get("unexpected_index_list") or []
        failing.update(i for i in indexes if isinstance(i, int))
        if indexes:
            rows = frame.loc[[i for i in indexes[:EXAMPLE_ROWS] if isinstance(i, int)]]
            if key_columns:
                shown = [c for c in key_columns + [config.kwargs.get("column")] if c]
                rows = rows[list(dict.fromkeys(shown))]
            text += "; e.g. " + "; ".join(
                ", ".join(f"{k}={v}" for k, v in row.items()) for row in rows.to_dict("records")
            )
        if item.exception_info and item.exception_info.get("raised_exception"):
            text += f"; error: {item.exception_info.get('exception_message')}"
        outcome.failures.append(text)
    outcome.failing_rows = len(failing)
    return outcome


def _keep(suite: str, result: object, run: RunIdentifier) -> None:
    """Store a suite's result for the Data Docs, in place of an earlier one of the suite."""
    store = _context().validation_results_store
    if (earlier := _validated.get(suite)) is not None:
        store.remove_key(earlier)
    key = ValidationResultIdentifier(ExpectationSuiteIdentifier(suite), run, "all")
    store.set(key, result)
    _validated[suite] = key


def build_data_docs(folder: Path) -> Path | None:
    """Render the results validated since the last call as Data Docs in ``folder`` (pages of
    results not among them are removed); its ``index.html``, or None when there were none."""
    if not _validated:
        return None
    context = _context()
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(folder),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    if DATA_DOCS_SITE in context.list_data_docs_sites():
        context.update_data_docs_site(DATA_DOCS_SITE, site)
    else:
        context.add_data_docs_site(DATA_DOCS_SITE, site)
    context.build_data_docs(site_names=[DATA_DOCS_SITE])
    store = context.validation_results_store
    for key in _validated.values():
        store.remove_key(key)
    _validated.clear()
    return folder / "index.html"
