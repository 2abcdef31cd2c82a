"""One ingest asset per source family: landing files → validated raw tables (ingest/)."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from ingest.landing import load_family
from ingest.registry import FAMILIES, SourceFamily
from orchestration.resources import WarehouseResource


def build_ingest_asset(family: SourceFamily):  # noqa: ANN201 - a Dagster AssetsDefinition
    specs = [
        AssetSpec(
            AssetKey(["raw", table]),
            group_name="raw",
            description=f"{family.title}: raw table {table}, one file_id per landing file.",
            kinds={"duckdb", "python"},
        )
        for table in family.tables
    ]

    @multi_asset(
        name=f"ingest_{family.name}",
        specs=specs,
        can_subset=False,
        description=f"Load new landing files of '{family.name}' into the raw layer.",
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        with warehouse.connect_build() as con:
            outcome = load_family(con, family, warehouse.file_store)
            counts = {
                table: con.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0]
                for table in family.tables
            }
        for path, report in outcome.quarantined:
            context.log.warning(f"Quarantined {path}:\n{report}")
        context.log.info(
            f"{family.name}: {len(outcome.accepted)} file(s) accepted "
            f"({outcome.rows_loaded} rows), {len(outcome.skipped)} already loaded, "
            f"{len(outcome.quarantined)} quarantined"
        )
        for spec in specs:
            yield MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "files_accepted": len(outcome.accepted),
                    "files_already_loaded": len(outcome.skipped),
                    "files_quarantined": len(outcome.quarantined),
                    "quarantined": [path for path, _ in outcome.quarantined],
                    "rows_loaded": outcome.rows_loaded,
                    "table_rows": counts[spec.key.path[-1]],
                },
            )

    return _ingest


ingest_assets = [build_ingest_asset(family) for family in FAMILIES.values()]
