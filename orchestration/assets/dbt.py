"""dbt models as Dagster assets (dagster-dbt): each model and seed an asset, each test a check."""

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetCheckSpec, AssetExecutionContext, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

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


class KsonDbtTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: ``<schema>/<table>``; groups follow the layers; dbt
    tests are checks that block nothing (dagster-dbt makes error-severity tests blocking: a
    failed one would fail the whole dbt step, and with it every mart's publication)."""

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
            description=spec.description,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            blocking=False,
        )


@dbt_assets(
    manifest=prepared_manifest(),
    project=dbt_project,
    dagster_dbt_translator=KsonDbtTranslator(),
)
def kson_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """``dbt build`` of the selected models: seeds, models, unit tests and data tests.

    A failing test or model does not fail the step: dbt skips what is built from it, and the
    publish step keeps the marts concerned at their published version (their checks failed,
    or they were not built).
    """
    build = dbt.cli(
        ["build", "--vars", warehouse.dbt_vars()], context=context, raise_on_error=False
    )
    yield from build.stream()
    if not build.is_successful():
        context.log.warning("dbt build: tests or models failed (see dbt's output above)")


def mart_keys() -> list[AssetKey]:
    return sorted(key for key in kson_dbt_models.keys if key.path[0] == "marts")
