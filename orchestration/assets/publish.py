"""The serving file: each mart published when its checks pass, else kept at its last version.

A mart is published (``current``) when this run built it, every check of this run on it and on
every asset upstream of it (dbt tests on its staging and intermediate models, the expectation
suites) passed, and the marts it is built from are current. Otherwise it keeps the version of
the previous publication (``stale``) and ``meta.publication`` says why. A mart not part of the
run (nothing it is built from changed: orchestration/planning.py) keeps its published version
and its status; a run without any mart publishes nothing. The step records the run as
completed (``meta.run_state``), which the next run's plan starts from. Each publication is
also exported as Parquet and CSV (orchestration/exports.py), small cells suppressed as the
marts' yml says.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetIn,
    AssetKey,
    DagsterEventType,
    EventLogEntry,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    TableColumn,
    TableRecord,
    TableSchema,
    graph_asset,
    op,
)

from orchestration.asset_catalog import catalog
from orchestration.assets.dbt import mart_keys
from orchestration.exports import suppressed_columns
from orchestration.planning import record_completed_run
from orchestration.publishing import Verdict, exports_dir, publication_status, publish_marts
from orchestration.quality import record_run_quality
from orchestration.resources import WarehouseResource, dbt_project

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

PUBLISHED_MARTS = AssetKey(["serving", "published_marts"])

NEVER_PUBLISHED = "never published, and not part of this run"
KEPT_STALE = "stale since an earlier run, and not part of this run"

RUN_RECORDS = {
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}


def decide(
    marts: Sequence[AssetKey],
    graph: "BaseAssetGraph",
    records: Iterable[EventLogEntry],
    published: Mapping[str, str] | None = None,
) -> list[Verdict]:
    """Per mart, from a run's records (what was planned, built and checked), the graph and the
    status of each mart in the serving file (``published``: mart -> current or stale): a mart
    not part of the run keeps what is published."""
    planned: set[AssetKey] = set()
    built: set[AssetKey] = set()
    planned_checks: set[AssetCheckKey] = set()
    evaluations: dict[AssetCheckKey, AssetCheckEvaluation] = {}
    for entry in records:
        event = entry.dagster_event
        if event is None or event.event_type not in RUN_RECORDS:
            continue
        data = event.event_specific_data
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.add(event.asset_key)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            built.add(event.asset_key)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            planned_checks.add(data.asset_check_key)
        else:
            evaluations[data.asset_check_key] = data
    not_built = planned - built

    def failed(check: AssetCheckKey) -> str | None:
        evaluation = evaluations.get(check)
        if evaluation is None:
            return f"{check.to_user_string()} (no result)"
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR:
            return check.to_user_string()
        return None

    verdicts: dict[AssetKey, Verdict] = {}
    # Ancestors first: an upstream mart has fewer ancestors than the marts built from it.
    for mart in sorted(marts, key=lambda key: len(graph.get_ancestor_asset_keys(key))):
        if mart not in planned:
            status = (published or {}).get(mart.path[-1])
            kept = None if status == "current" else KEPT_STALE if status else NEVER_PUBLISHED
            verdicts[mart] = Verdict(mart.path[-1], reason=kept, kept=True)
            continue
        scope = graph.get_ancestor_asset_keys(mart, include_self=True)
        failing = sorted(
            failure
            for check in planned_checks
            if check.asset_key in scope and check.asset_key in built
            if (failure := failed(check))
        )
        first_not_built = sorted(
            key.to_user_string()
            for key in scope & not_built
            if not graph.get(key).parent_keys & not_built
        )
        stale_upstream = sorted(
            key.path[-1] for key in scope - {mart} if key in verdicts and not verdicts[key].current
        )
        reasons = [
            *([f"failed: {', '.join(failing)}"] if failing else []),
            *(
                [f"not built in this run: {', '.join(first_not_built)} (see the dbt log)"]
                if first_not_built
                else []
            ),
            *([f"built from stale {', '.join(stale_upstream)}"] if stale_upstream else []),
        ]
        verdicts[mart] = Verdict(mart.path[-1], tuple(failing), "; ".join(reasons) or None)
    return [verdicts[mart] for mart in marts]


# The expectation suites are asset checks on the marts that no step waits for (a failed one
# must stop only its mart). In the in-process executor the step with the highest priority
# among those ready runs first: the suites and this step become ready together, when dbt is
# done, so this one runs last. A check without a result counts as failed all the same.
@op(ins={"marts": In(Nothing)}, out=Out(Nothing), tags={"dagster/priority": "-1"})
def publish(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
    graph = context.job_def.asset_layer.asset_graph
    records = list(context.instance.all_logs(context.run_id, of_type=RUN_RECORDS))
    planned = {
        entry.dagster_event.asset_key
        for entry in records
        if entry.dagster_event
        and entry.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    }
    serving = Path(warehouse.serving_db)
    published = {row["mart"]: row["status"] for row in publication_status(serving)}
    verdicts = decide(mart_keys(), graph, records, published)
    record_run_quality(context, warehouse, records)  # meta.dq_results (published too), Data Docs
    manifest = json.loads(dbt_project.manifest_path.read_text())
    if planned & set(mart_keys()):
        _publish(context, warehouse, verdicts, manifest)
    else:
        context.log.info(f"No mart in this run: {serving} is unchanged")
    with warehouse.connect_build() as con:
        record_completed_run(con, context.run_id, planned, graph, manifest)


def _publish(
    context: OpExecutionContext,
    warehouse: WarehouseResource,
    verdicts: list[Verdict],
    manifest: dict,
) -> None:
    publication = publish_marts(
        build_db=Path(warehouse.build_db),
        serving_db=Path(warehouse.serving_db),
        verdicts=verdicts,
        storage_version=warehouse.storage_version,
        run_id=context.run_id,
        keep=warehouse.serving_keep,
        exports=suppressed_columns(manifest),
    )
    for mart, reason in publication.stale.items():
        context.log.warning(f"marts.{mart} is stale (keeps its published version): {reason}")
    context.log.info(f"Published {publication.path} as {warehouse.serving_db}")
    context.add_output_metadata(
        {
            # What BI reads: the serving path, at this publication, and its marts.
            "serving_path": MetadataValue.path(warehouse.serving_db),
            "published": published_table(verdicts, publication.rows),
            "dagster/row_count": sum(publication.rows.values()),
            "publication": publication.id,
            "version_file": str(publication.path),
            "storage_version": warehouse.storage_version,
            "exports": str(exports_dir(Path(warehouse.serving_db)) / publication.id),
            "stale": publication.stale,
        }
    )


PUBLISHED_COLUMNS = TableSchema(
    columns=[
        TableColumn("mart", "VARCHAR", description="marts.<mart> in the serving file"),
        TableColumn("status", "VARCHAR", description="current, or stale: keeps its last version"),
        TableColumn(
            "row_count", "BIGINT", description="rows in the serving file (none: never published)"
        ),
        TableColumn("reason", "VARCHAR", description="why stale"),
    ]
)


def published_table(verdicts: Sequence[Verdict], rows: dict[str, int]) -> MetadataValue:
    """The marts of a publication as the UI shows them: what BI reads, and how current."""
    return MetadataValue.table(
        [
            TableRecord(
                {
                    "mart": verdict.mart,
                    "status": "current" if verdict.current else "stale",
                    "row_count": rows.get(verdict.mart),
                    "reason": verdict.reason or "",
                }
            )
            for verdict in verdicts
        ],
        schema=PUBLISHED_COLUMNS,
    )


@graph_asset(
    key=PUBLISHED_MARTS,
    # Nothing inputs fanned into one: the step runs unless no mart at all was built.
    ins={key.path[-1]: AssetIn(key=key, dagster_type=Nothing) for key in mart_keys()},
    **catalog("serving"),
    kinds={"duckdb"},
    description="Publishes the marts as a new version of the serving file (KSON_WAREHOUSE, a "
    "link swapped atomically). A mart whose checks (or those of anything upstream of it) "
    "failed keeps its previously published version and is marked stale in meta.publication. "
    "Each publication is also exported as Parquet and CSV (warehouse/exports/current).",
)
def published_marts(**marts: Any) -> Any:
    return publish(marts=list(marts.values()))
