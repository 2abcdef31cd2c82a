"""One ingest asset per source family: landing files → validated raw tables (ingest/); and one
for the landing files no family takes (quarantined)."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from ingest.landing import NO_FAMILY, load_family, quarantine_unclaimed
from ingest.registry import FAMILIES, SourceFamily
from ingest.validation import printable
from orchestration.asset_catalog import catalog, table_metadata
from orchestration.progress import file_counter
from orchestration.resources import WarehouseResource


def build_ingest_asset(family: SourceFamily):  # noqa: ANN201 - a Dagster AssetsDefinition
    specs = [
        AssetSpec(
            AssetKey(["raw", table]),
            **catalog("raw", source_family=family.name),
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
            outcome = load_family(con, family, warehouse.file_store, file_counter(context.log.info))
            tables = table_metadata(con, (("raw", table) for table in family.tables))
        for path, report in outcome.quarantined:
            context.log.warning(f"Quarantined {printable(path)}:\n{report}")
        already = [printable(str(again)) for again in outcome.already_loaded]
        for line in already:
            context.log.warning(line)
        context.log.info(
            f"{family.name}: {len(outcome.accepted)} file(s) accepted "
            f"({outcome.rows_loaded} rows), {outcome.unchanged} unchanged, "
            f"{len(already)} already loaded from another path, "
            f"{len(outcome.quarantined)} quarantined"
        )
        for spec in specs:
            yield MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "files_accepted": len(outcome.accepted),
                    "files_unchanged": outcome.unchanged,
                    "files_already_loaded": len(already),
                    "already_loaded": already,
                    "files_quarantined": len(outcome.quarantined),
                    "quarantined": [printable(path) for path, _ in outcome.quarantined],
                    "rows_loaded": outcome.rows_loaded,
                    **tables[("raw", spec.key.path[-1])],
                },
            )

    return _ingest


@multi_asset(
    name="ingest_unclaimed",
    specs=[
        AssetSpec(
            AssetKey(["raw", "unclaimed_files"]),
            **catalog("raw"),
            kinds={"python"},
            description="Files in the landing folder that no source family takes (a name no "
            "family's pattern matches, a file in the landing root or in an unknown folder): "
            f"each run quarantines them with the rule '{NO_FAMILY}' (raw.quarantine_log, a "
            "report each).",
        )
    ],
)
def unclaimed_files(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    with warehouse.connect_build() as con:
        outcome = quarantine_unclaimed(con, FAMILIES.values(), warehouse.file_store)
    unclaimed = [printable(path) for path, _ in outcome.quarantined]
    for path in unclaimed:
        context.log.warning(f"Quarantined {path}: {NO_FAMILY}")
    return MaterializeResult(metadata={"files_quarantined": len(unclaimed), "unclaimed": unclaimed})


ingest_assets = [*(build_ingest_asset(family) for family in FAMILIES.values()), unclaimed_files]
