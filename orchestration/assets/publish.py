"""The serving file: the gated marts, published for BI tools in one atomic step."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from orchestration.assets.dbt import mart_keys
from orchestration.publishing import publish_marts
from orchestration.resources import WarehouseResource

PUBLISHED_MARTS = AssetKey(["serving", "published_marts"])


@asset(
    key=PUBLISHED_MARTS,
    deps=mart_keys(),
    group_name="serving",
    kinds={"duckdb"},
    description="Copies the marts into the serving file (KSON_WAREHOUSE) and swaps it in "
    "atomically. Runs only after every blocking check on the marts has passed.",
)
def published_marts(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    tables = [key.path[-1] for key in mart_keys()]
    rows = publish_marts(
        build_db=Path(warehouse.build_db),
        serving_db=Path(warehouse.serving_db),
        tables=tables,
        storage_version=warehouse.storage_version,
        run_id=context.run.run_id,
    )
    context.log.info(f"Published {rows} to {warehouse.serving_db}")
    return MaterializeResult(
        metadata={
            "serving_file": warehouse.serving_db,
            "storage_version": warehouse.storage_version,
            **{f"rows.{table}": count for table, count in rows.items()},
        }
    )
