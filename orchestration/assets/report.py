"""The board report (orchestration/report.py), written from each publication.

It runs after the publish step, from what was published. A report that cannot be written
fails its step (and so the run: `kson run` exits 1 and names it), but the marts stay
published, and ``reports/report.html`` keeps pointing at the last report written.
"""

import json
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.asset_catalog import catalog
from orchestration.assets.publish import PUBLISHED_MARTS
from orchestration.exports import suppressed_columns
from orchestration.report import report_link, report_publication, write_report
from orchestration.resources import WarehouseResource, dbt_project

BOARD_REPORT = AssetKey(["serving", "board_report"])


@asset(
    key=BOARD_REPORT,
    deps=[PUBLISHED_MARTS],
    **catalog("serving"),
    kinds={"html"},
    description="The report the board reads: a self-contained HTML file written from the "
    "published serving file (indicators and targets, the user survey, contract follow-up, "
    "cost per user against the county, member contributions, the annual result, "
    "reimbursement deviations), small cells withheld. warehouse/reports/report.html points "
    "at the newest; `kson report` prints its path.",
)
def board_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    serving = Path(warehouse.serving_db)
    path = write_report(
        serving, suppressed_columns(json.loads(dbt_project.manifest_path.read_text()))
    )
    context.log.info(f"Board report {path} ({report_link(serving)})")
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(path),
            "link": MetadataValue.path(report_link(serving)),
            "publication": report_publication(serving, path),
        }
    )
