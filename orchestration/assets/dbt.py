"""dbt models as Dagster assets (dagster-dbt): each model and seed an asset, each test a check."""

import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from ingest.isolation import shared_pool
from ingest.registry import FAMILIES
from orchestration.asset_catalog import OWNERS, table_metadata, tags
from orchestration.progress import counter
from orchestration.resources import WarehouseResource, dbt_preparer, dbt_project

LAYERS = ("staging", "intermediate", "marts")


def prepared_manifest() -> Path:
    """The dbt manifest the assets are made from. ``kson run``, the test session and ``make
    prepare`` prepare it before the definitions load; under ``dagster dev`` loading them does
    (``orchestration.resources.KsonDbtProjectPreparer``: dbt parses only what changed)."""
    dbt_preparer.prepare_if_dev(dbt_project)
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest}: no dbt manifest yet; run `make prepare` (kson run, make run, make ui "
            "and make test prepare it themselves)"
        )
    if not dbt_preparer.is_current(dbt_project):
        warnings.warn(
            f"{manifest} is older than the dbt project; run `make prepare` to load the "
            "current models",
            stacklevel=2,
        )
    return manifest


FAMILY_OF_RAW_TABLE = {
    table: family.name for family in FAMILIES.values() for table in family.tables
}


def source_families(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    """The source families whose raw tables a model reads, directly or through other models."""
    families: set[str] = set()
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                table = manifest["sources"][parent]["identifier"]
                if table in FAMILY_OF_RAW_TABLE:  # not raw.load_log: every family's
                    families.add(FAMILY_OF_RAW_TABLE[table])
            else:
                todo.append(parent)
    return families


def check_description(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """What a dbt test checks, in a line: its own description (yml ``description`` or
    ``meta.description``), else one made from the generic test's arguments, else a singular
    test's first ``--`` comment."""
    own = test.get("description") or test.get("meta", {}).get("description")
    if own:
        return own
    generic = test.get("test_metadata") or {}
    kwargs = generic.get("kwargs", {})
    column = kwargs.get("column_name")
    match generic.get("name"):
        case "accepted_values":
            values = ", ".join(str(value) for value in kwargs["values"])
            return f"accepted_values on `{column}`: {values}"
        case "relationships":
            others = [n for n in test["depends_on"]["nodes"] if n != test.get("attached_node")]
            target = (
                ".".join(manifest["nodes"][others[0]][key] for key in ("resource_type", "name"))
                if len(others) == 1
                else kwargs["to"]
            )
            return f"relationships `{column}` → {target}.{kwargs['field']}"
        case "unique_combination_of_columns":
            return f"unique combination of ({', '.join(kwargs['combination_of_columns'])})"
        case None:  # a singular test: its file's first comment
            comment = re.search(r"(?:^[ \t]*--.*\n?)+", test.get("raw_code", ""), re.MULTILINE)
            lines = comment.group(0).splitlines() if comment else []
            return " ".join(line.strip().removeprefix("--").strip() for line in lines) or (
                f"singular test {test['original_file_path']}"
            )
        case name:
            return f"{name} on `{column}`" if column else name


class KsonDbtTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: ``<schema>/<table>``; groups follow the layers, and
    owners and tags the groups (orchestration/asset_catalog.py); dbt tests are checks that
    block nothing (dagster-dbt makes error-severity tests blocking: a failed one would fail
    the whole dbt step, and with it every mart's publication), described in a line."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "seed":
            return AssetKey(["reference", dbt_resource_props["name"]])
        if dbt_resource_props["resource_type"] == "model":
            return AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        schema = dbt_resource_props.get("config", {}).get("schema")
        return schema if schema in LAYERS else super().get_group_name(dbt_resource_props)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name not in OWNERS or not unique_id.startswith(("model.", "seed.")):
            return spec
        node = manifest["nodes"][unique_id]
        families = source_families(manifest, unique_id)
        folder = node["fqn"][1:-1]  # seeds: [domain]; models: [layer, domain or family]
        domain = {"marts": folder[-1:], "reference": folder}.get(spec.group_name)
        return spec.replace_attributes(
            owners=[OWNERS[spec.group_name]],
            tags={
                **spec.tags,
                **tags(
                    spec.group_name,
                    source_family=families.pop() if len(families) == 1 else None,
                    domain=domain[0] if domain else None,
                ),
            },
        )

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        return spec and AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=check_description(manifest["nodes"][unique_id], manifest),
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            blocking=False,
        )


class DbtBuildConfig(Config):
    full_refresh: bool = Field(
        default=False,
        description="dbt build --full-refresh: incremental models (the visits per file and "
        "month) rebuilt from all their rows, as a replay needs (a replayed file keeps its "
        "file_id).",
    )
    unit_tests: bool = Field(
        default=True,
        description="Run dbt's unit tests (each model's logic on fixed inputs) with the "
        "models. The plan turns them off for a run of new data alone: data cannot change "
        "their outcome; a changed model, a changed project or a run of everything has them.",
    )


@dbt_assets(
    manifest=prepared_manifest(),
    project=dbt_project,
    dagster_dbt_translator=KsonDbtTranslator(),
)
def kson_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """``dbt build`` of the selected models: seeds, models, unit tests and data tests.

    A failing test or model does not fail the step: dbt skips what is built from it, and the
    publish step keeps the marts concerned at their published version (their checks failed,
    or they were not built).
    """
    # The readers' workers idle from here on (ingest is upstream of every model): their
    # memory goes back before dbt's DuckDB takes its share.
    shared_pool().close()
    options = ["--full-refresh"] if config.full_refresh else []
    if not config.unit_tests:
        options += ["--exclude-resource-type", "unit_test"]
    with warehouse.dbt_environment():
        # no manifest.json or run_results.json (~0.3 s): the results come as events, dbt.log
        # in the target folder keeps them
        build = dbt.cli(
            ["build", "--no-write-json", *options],
            context=context,
            raise_on_error=False,
            target_path=warehouse.dbt_target_path,
        )
    # dbt holds the build database until it exits: the events wait for it, as dagster-dbt's
    # fetch_row_counts does on DuckDB (which, besides, counts no views). The count of models
    # and seeds built is logged as they come (kson run's progress).
    count, built, events = counter(context.log.info, "model"), 0, []
    for event in build.stream():
        events.append(event)
        if isinstance(event, Output):
            built += 1
            count(built, len(context.selected_asset_keys))
    if not build.is_successful():
        context.log.warning("dbt build: tests or models failed (see dbt's output above)")
    with warehouse.connect_build(read_only=True) as con:
        yield from with_table_metadata(con, events, build.manifest)


def with_table_metadata(
    con: duckdb.DuckDBPyConnection, events: Iterable[Any], manifest: Mapping[str, Any]
) -> Iterator[Any]:
    """dbt's events, each model's and seed's output with its table's row count and typed
    columns (``orchestration.asset_catalog.table_metadata``: one query for all)."""
    events = list(events)
    nodes = {
        id(event): manifest["nodes"][event.metadata["unique_id"].value]
        for event in events
        if isinstance(event, Output) and "unique_id" in event.metadata
    }
    tables = table_metadata(con, ((node["schema"], node["alias"]) for node in nodes.values()))
    for event in events:
        node = nodes.get(id(event))
        found = node and tables.get((node["schema"], node["alias"]))
        yield event.with_metadata({**event.metadata, **found}) if found else event


def mart_keys() -> list[AssetKey]:
    return sorted(key for key in kson_dbt_models.keys if key.path[0] == "marts")
