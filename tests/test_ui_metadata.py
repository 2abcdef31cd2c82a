"""What the Dagster UI shows about the assets, read through its GraphQL API (in-process, on the
instance of the session's full run): row counts, typed columns, owners and tags, dbt test
descriptions, the serving file BI reads."""

import json
from contextlib import contextmanager

import duckdb
import pytest

from conftest import REPO_ROOT
from orchestration.asset_catalog import table_metadata
from orchestration.assets.dbt import check_description
from orchestration.resources import dbt_project

ASSET = """
query Asset($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      groupName
      owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
      tags { key value }
      assetChecksOrError { ... on AssetChecks { checks { name description } } }
      assetMaterializations(limit: 1) {
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on PathMetadataEntry { path }
          ... on TableSchemaMetadataEntry { schema { columns { name type } } }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
  }
}
"""

ALL_ASSETS = """
{
  assetNodes {
    assetKey { path }
    groupName
    owners { ... on TeamAssetOwner { team } }
    tags { key value }
  }
}
"""


@contextmanager
def graphql(instance):  # noqa: ANN001, ANN201
    """The UI's GraphQL context on ``instance``, the code location loaded in this process."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            module_name="orchestration.definitions",
            attribute="defs",
            working_directory=str(REPO_ROOT),
        ),
        location_name="kson",
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process:
        yield process.create_request_context()


def query(context, text: str, variables: dict | None = None) -> dict:  # noqa: ANN001
    from dagster_graphql.test.utils import execute_dagster_graphql

    result = execute_dagster_graphql(context, text, variables)
    assert not result.errors, result.errors
    return result.data


@pytest.fixture(scope="module")
def ui(full_run, full_run_instance):  # noqa: ANN001, ANN201
    """Asks the UI's GraphQL about an asset (key path as "schema/table")."""
    with graphql(full_run_instance) as context:

        def asset(path: str) -> dict:
            node = query(context, ASSET, {"key": {"path": path.split("/")}})["assetNodeOrError"]
            [materialization] = node["assetMaterializations"]
            metadata = {entry["label"]: entry for entry in materialization["metadataEntries"]}
            return {**node, "metadata": metadata}

        asset.all = lambda: query(context, ALL_ASSETS)["assetNodes"]
        yield asset


def build_count(full_run, table: str) -> int:  # noqa: ANN001
    workspace, _ = full_run
    with duckdb.connect(str(workspace.build_db), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


@pytest.mark.parametrize(
    "asset", ["raw/visit_logs", "staging/stg_providers__visits", "marts/provider_month"]
)
def test_row_counts_are_the_tables(ui, full_run, asset: str) -> None:
    count = ui(asset)["metadata"]["dagster/row_count"]["intValue"]
    assert count > 0
    assert count == build_count(full_run, asset.replace("/", "."))


def test_staging_model_lists_its_real_columns_typed(ui) -> None:
    entry = ui("staging/stg_providers__visits")["metadata"]["dagster/column_schema"]
    types = {column["name"]: column["type"] for column in entry["schema"]["columns"]}
    assert len(types) > 5 and "?" not in types.values()
    assert types["file_id"] in {"BIGINT", "INTEGER"}
    assert types["actual_start"] == "TIMESTAMP"


def test_seed_and_raw_columns_are_typed(ui) -> None:
    for asset in ("reference/providers", "raw/visit_logs"):
        entry = ui(asset)["metadata"]["dagster/column_schema"]
        columns = {column["name"]: column["type"] for column in entry["schema"]["columns"]}
        assert "file_id" in columns or "org_nr" in columns, asset
        assert "?" not in columns.values()


def test_every_asset_has_owners_and_layer_tags(ui) -> None:
    nodes = ui.all()
    assert len(nodes) > 60
    for node in nodes:
        tags = {tag["key"]: tag["value"] for tag in node["tags"]}
        name = "/".join(node["assetKey"]["path"])
        assert node["owners"], name
        assert tags.get("layer") == node["groupName"], name
    stg = ui("staging/stg_providers__visits")
    assert stg["owners"] == [{"team": "data-engineering"}]
    assert {"layer": "staging", "source_family": "visit_logs"}.items() <= {
        tag["key"]: tag["value"] for tag in stg["tags"]
    }.items()
    mart = ui("marts/annual_result")
    assert mart["owners"] == [{"team": "follow-up"}]
    assert {"layer": "marts", "domain": "finance"}.items() <= {
        tag["key"]: tag["value"] for tag in mart["tags"]
    }.items()


def test_dbt_test_checks_say_what_they_check(ui) -> None:
    checks = {
        check["name"]: check["description"]
        for check in ui("marts/indicator_values")["assetChecksOrError"]["checks"]
    }
    assert checks["accepted_values_indicator_values_status"] == (  # its name set in the yml
        "accepted_values on `status`: uppnått, ej uppnått, saknar data, saknar mål"
    )
    assert checks[
        "relationships_indicator_values_indicator_id__indicator_id__ref_indicator_catalog_"
    ] == ("relationships `indicator_id` → seed.indicator_catalog.indicator_id")
    assert checks[
        "unique_combination_of_columns_indicator_values_indicator_id__reporting_year"
    ] == ("unique combination of (indicator_id, reporting_year)")
    assert all(checks.values())


def test_singular_and_not_null_descriptions() -> None:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    tests = {node["name"]: node for node in manifest["nodes"].values()}
    assert check_description(tests["assert_survey_results_complete"], manifest).startswith(
        "Every year and service in the mart has each question of the seed"
    )
    assert (
        check_description(tests["not_null_stg_kolada__kpis_kpi_id"], manifest)
        == "not_null on `kpi_id`"
    )


def test_serving_asset_names_what_bi_reads(ui, full_run) -> None:
    from orchestration.publishing import publication_status

    workspace, _ = full_run
    serving = ui("serving/published_marts")["metadata"]
    assert serving["serving_path"]["path"] == str(workspace.serving_db)
    publication = serving["publication"]["text"]
    assert workspace.serving_db.resolve().name == f"kson-{publication}.duckdb"
    records = [json.loads(record) for record in serving["published"]["table"]["records"]]
    status = {row["mart"]: row for row in publication_status(workspace.serving_db)}
    assert {record["mart"]: record["row_count"] for record in records} == {
        mart: row["row_count"] for mart, row in status.items()
    }
    assert serving["dagster/row_count"]["intValue"] == sum(r["row_count"] for r in records) > 0
    report = ui("serving/board_report")["metadata"]
    assert report["publication"]["text"] == publication


def test_table_metadata_counts_views_and_skips_missing() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE SCHEMA staging; CREATE TABLE staging.t (a INTEGER, b DECIMAL(12, 2));"
            "INSERT INTO staging.t VALUES (1, 2), (3, 4);"
            "CREATE VIEW staging.v AS SELECT a FROM staging.t WHERE a > 1"
        )
        found = table_metadata(con, [("staging", "t"), ("staging", "v"), ("staging", "gone")])
    assert set(found) == {("staging", "t"), ("staging", "v")}
    assert found[("staging", "v")]["dagster/row_count"] == 1
    assert [(c.name, c.type) for c in found[("staging", "t")]["dagster/column_schema"].columns] == [
        ("a", "INTEGER"),
        ("b", "DECIMAL(12,2)"),
    ]
