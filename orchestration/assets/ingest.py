"""One ingest asset per source family: landing files → validated raw tables (ingest/); and one
for the landing files no family takes (quarantined). With run config ``replay: true`` a
family's asset first reads its archived files again with today's rules (a replay)."""

from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    multi_asset,
)
from pydantic import Field

from ingest.landing import NO_FAMILY, UNCLAIMED, load_family, quarantine_unclaimed, replay_family
from ingest.registry import FAMILIES, SourceFamily
from ingest.validation import printable
from orchestration.asset_catalog import catalog, table_metadata
from orchestration.planning import landed_files, record_seen
from orchestration.progress import counter
from orchestration.resources import WarehouseResource


class IngestConfig(Config):
    replay: bool = Field(
        default=False,
        description="Replay: read every accepted file of the family again from the archive "
        "with today's rules (its raw rows replaced; a file that now fails is quarantined and "
        "withdrawn), then load the new landing files. Materialize what is downstream too.",
    )


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
        context: AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        progress = counter(context.log.info, "file")
        with warehouse.connect_build() as con:
            # Seen before read: a run that does not complete leaves them to the next one.
            record_seen(con, family.name, landed_files(Path(warehouse.landing_dir), [family.name]))
            replayed = (
                replay_family(con, family, warehouse.file_store, progress)
                if config.replay
                else None
            )
            outcome = load_family(con, family, warehouse.file_store, progress)
            tables = table_metadata(con, (("raw", table) for table in family.tables))
        if replayed is not None:
            context.log.info(
                f"{family.name}: replayed {len(replayed.accepted)} archived file(s) "
                f"({replayed.rows_loaded} rows), {len(replayed.quarantined)} now rejected"
            )
            outcome.quarantined[:0] = replayed.quarantined
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
                    "files_replayed": len(replayed.accepted) if replayed else 0,
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
        record_seen(con, UNCLAIMED, landed_files(Path(warehouse.landing_dir), [UNCLAIMED]))
        outcome = quarantine_unclaimed(con, FAMILIES.values(), warehouse.file_store)
    unclaimed = [printable(path) for path, _ in outcome.quarantined]
    for path in unclaimed:
        context.log.warning(f"Quarantined {path}: {NO_FAMILY}")
    return MaterializeResult(metadata={"files_quarantined": len(unclaimed), "unclaimed": unclaimed})


ingest_assets = [*(build_ingest_asset(family) for family in FAMILIES.values()), unclaimed_files]
