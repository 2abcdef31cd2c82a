"""dbt models as Dagster assets (dagster-dbt): each model and seed an asset, each test a check."""

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.resources import WarehouseResource, dbt_project, dbt_resource

LAYERS = ("staging", "intermediate", "marts")


def _project_fingerprint() -> str:
    """Names, sizes and times of every file dbt parses."""
    root = dbt_project.project_dir
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in {".sql", ".yml", ".yaml", ".csv", ".md"}
        and p.relative_to(root).parts[0] not in {"target", "logs"}
    )
    listing = "\n".join(
        f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or any project file has changed.

    A fresh clone has no manifest; an added or edited model makes the old one stale. Parsing
    takes a few seconds and happens only then, not on every load of the definitions.
    """
    manifest = dbt_project.manifest_path
    stamp = manifest.with_name("manifest.fingerprint")
    fingerprint = _project_fingerprint()
    if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return manifest
    dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    stamp.write_text(fingerprint)
    return manifest


class KsonDbtTranslator(DagsterDbtTranslator):
    """Asset keys follow the warehouse: ``<schema>/<table>``; groups follow the layers."""

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


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=KsonDbtTranslator(),
)
def kson_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    """``dbt build`` of the selected models: seeds, models, unit tests and data tests."""
    yield from dbt.cli(["build", "--vars", warehouse.dbt_vars()], context=context).stream()


def mart_keys() -> list[AssetKey]:
    return sorted(key for key in kson_dbt_models.keys if key.path[0] == "marts")
