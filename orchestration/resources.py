"""Resources, configured from environment variables with defaults inside the repository.

| variable                      | default                          | what                         |
|-------------------------------|----------------------------------|------------------------------|
| KSON_LANDING_DIR              | data/landing                     | landing folder, <source>/    |
| KSON_WAREHOUSE                | warehouse/kson.duckdb            | published serving file (BI)  |
| KSON_BUILD_DB                 | <warehouse dir>/kson_build.duckdb| build database (raw + dbt)   |
| KSON_SERVING_STORAGE_VERSION  | v1.2.0                           | DuckDB storage of serving    |

Relative paths are taken from the repository root.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from ingest.landing import FileStore

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# dagster-dbt looks for `dbt` on PATH; the console script may run without an activated venv.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    path = Path(value) if value else default
    return path if path.is_absolute() else REPO_ROOT / path


class WarehouseResource(ConfigurableResource):
    """Where the platform reads and writes: landing folder, build database, serving file."""

    landing_dir: str
    build_db: str
    serving_db: str
    storage_version: str = "v1.2.0"

    @classmethod
    def from_env(cls) -> WarehouseResource:
        serving = _path("KSON_WAREHOUSE", Path("warehouse/kson.duckdb"))
        return cls(
            landing_dir=str(_path("KSON_LANDING_DIR", Path("data/landing"))),
            serving_db=str(serving),
            build_db=str(_path("KSON_BUILD_DB", serving.with_name("kson_build.duckdb"))),
            storage_version=os.environ.get("KSON_SERVING_STORAGE_VERSION", "v1.2.0"),
        )

    @property
    def warehouse_dir(self) -> Path:
        return Path(self.serving_db).parent

    @property
    def file_store(self) -> FileStore:
        return FileStore(
            landing_dir=Path(self.landing_dir),
            archive_dir=self.warehouse_dir / "archive",
            quarantine_dir=self.warehouse_dir / "quarantine",
        )

    def connect_build(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        Path(self.build_db).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.build_db, read_only=read_only)
        con.execute("SET enable_progress_bar = false")
        return con

    def dbt_vars(self) -> str:
        """``--vars`` for dbt: its profile takes the build database's path from them."""
        return json.dumps({"build_db": self.build_db})


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class VenvDbtCliResource(DbtCliResource):
    """dbt-core installed in this environment.

    dagster-dbt learns the dbt version by running ``dbt --version`` (~3.5 s here) on every
    invocation; the package metadata of the same environment says the same at no cost.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    return VenvDbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))
