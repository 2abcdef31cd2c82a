"""Resources, configured from environment variables with defaults inside the repository.

| variable                      | default                          | what                         |
|-------------------------------|----------------------------------|------------------------------|
| KSON_LANDING_DIR              | data/landing                     | landing folder, <source>/    |
| KSON_WAREHOUSE                | warehouse/kson.duckdb            | serving file (BI reads it)   |
| KSON_BUILD_DB                 | <warehouse dir>/kson_build.duckdb| build database (raw + dbt)   |
| KSON_SERVING_STORAGE_VERSION  | v1.2.0                           | DuckDB storage of serving    |
| KSON_SERVING_KEEP             | 3                                | serving versions kept        |
| KSON_DUCKDB_MEMORY_LIMIT      | 600MB                            | DuckDB's memory, build db+dbt|

Relative paths are taken from the repository root. The serving file is a link to the current
version, ``serving/<name>-<publication>.duckdb`` beside it, swapped atomically by each publish
(orchestration/publishing.py): a reader's next connection opens the new version, and
connections already open keep reading the one they opened.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_dbt import DbtCliResource, DbtProject, DbtProjectPreparer
from packaging.version import Version

from ingest.landing import FileStore
from orchestration.locations import Locations
from orchestration.planning import DBT_PROJECT_DIR, dbt_project_fingerprint
from orchestration.publishing import DEFAULT_KEEP
from orchestration.run_lock import BUILD_DB_TAG, build_db_lock, build_db_tag, close_dead_runs
from orchestration.run_tags import run_tags

# dagster-dbt looks for `dbt` on PATH; the console script may run without an activated venv.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class WarehouseResource(ConfigurableResource):
    """Where the platform reads and writes: landing folder, build database, serving file."""

    landing_dir: str
    build_db: str
    serving_db: str
    storage_version: str = "v1.2.0"
    serving_keep: int = DEFAULT_KEEP

    @classmethod
    def from_env(cls) -> WarehouseResource:
        locations = Locations.from_env()
        keep = os.environ.get("KSON_SERVING_KEEP") or str(DEFAULT_KEEP)
        if not keep.isdigit() or int(keep) < 1:
            raise ValueError(
                f"KSON_SERVING_KEEP={keep!r}: the number of serving-file versions to keep, "
                "a whole number of at least 1"
            )
        return cls(
            landing_dir=str(locations.landing_dir),
            serving_db=str(locations.serving_db),
            build_db=str(locations.build_db),
            storage_version=os.environ.get("KSON_SERVING_STORAGE_VERSION", "v1.2.0"),
            serving_keep=int(keep),
        )

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseResource]:
        """A run that uses the warehouse holds the build database's lock throughout, whoever
        launched it (``kson run``, schedule, sensor, UI); other runs of it that are still
        STARTED are dead and are recorded as failed. A run without the platform's run tags
        was launched from the UI (or another Dagster client): it gets them here."""
        run_id = context.run.run_id if context.run else "no run"
        with build_db_lock(self.build_db, run_id):
            if context.instance is not None and context.run is not None:
                launched = run_tags("UI", self.landing_dir).items()
                missing = {key: value for key, value in launched if key not in context.run.tags}
                context.instance.add_run_tags(
                    run_id, {BUILD_DB_TAG: build_db_tag(self.build_db), **missing}
                )
                for dead in close_dead_runs(context.instance, self.build_db, run_id):
                    if context.log:
                        context.log.warning(f"Run {dead.run_id} had died; recorded as failed")
            yield self

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
        # as dbt's (dbt_project/profiles.yml); beyond it DuckDB spills to <build db>.tmp/
        con.execute("SET memory_limit = ?", [os.environ.get("KSON_DUCKDB_MEMORY_LIMIT") or "600MB"])
        return con

    @property
    def dbt_target_path(self) -> Path:
        """dbt's target folder for this build database (``kson_build_dbt/`` beside it), the
        same every run: dbt reuses its partial parse there (parsing the project again costs
        ~2 s), and a run's artifacts replace the last run's instead of piling up."""
        build_db = Path(self.build_db)
        return build_db.with_name(f"{build_db.stem}_dbt")

    @contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """``KSON_BUILD_DB`` set for a dbt process started inside: dbt's profile takes the build
        database's path from it. Not from ``--vars``: vars other than the parse's make dbt
        parse the whole project again (~2 s a run) instead of reusing its partial parse."""
        before = os.environ.get("KSON_BUILD_DB")
        os.environ["KSON_BUILD_DB"] = self.build_db
        try:
            yield
        finally:
            if before is None:
                del os.environ["KSON_BUILD_DB"]
            else:
                os.environ["KSON_BUILD_DB"] = before


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class VenvDbtCliResource(DbtCliResource):
    """dbt-core installed in this environment.

    dagster-dbt learns the dbt version by running ``dbt --version`` (~3.5 s here) on every
    invocation; the package metadata of the same environment says the same at no cost. There
    is no public way to tell it the version, so this overrides its private ``_cli_version``
    (and ``_initialize_dbt_core_adapter``, below); tests/test_dbt_preparation.py fails if
    dagster-dbt stops using them.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        """No dbt adapter in this process: dagster-dbt loads dbt's project, profile and adapter
        here on every invocation (~2 s) for its ``fetch_row_counts``/``fetch_column_metadata``,
        which the platform does not use (``orchestration.asset_catalog`` reads the tables'
        metadata in one query after dbt)."""
        return None


def dbt_resource() -> DbtCliResource:
    return VenvDbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


class KsonDbtProjectPreparer(DbtProjectPreparer):
    """Parses the dbt project into its manifest only when a file dbt reads has changed.

    A fingerprint of the project files (names, sizes, times) and of the dbt and dagster-dbt
    versions is kept beside the manifest; parsing takes ~5 s and happens only when they
    differ. ``kson run``, the test session and ``make prepare`` call ``prepare``; under
    ``dagster dev`` (``make ui``) loading the definitions does (``prepare_if_dev``).
    """

    def prepare_if_dev(self, project: DbtProject) -> None:
        if self.using_dagster_dev():
            self.prepare(project)

    def prepare(self, project: DbtProject) -> None:
        if self.is_current(project):
            return
        project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        # One parse at a time in this checkout (two runs of other warehouses may start at once).
        with (project.manifest_path.parent / ".prepare.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.is_current(project):
                return
            fingerprint = self.fingerprint(project)
            dbt = VenvDbtCliResource(project_dir=project, dbt_executable=str(DBT_EXECUTABLE))
            dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
            self._stamp(project).write_text(fingerprint, encoding="utf-8")

    def is_current(self, project: DbtProject) -> bool:
        stamp = self._stamp(project)
        return (
            project.manifest_path.exists()
            and stamp.exists()
            and stamp.read_text(encoding="utf-8") == self.fingerprint(project)
        )

    @staticmethod
    def fingerprint(project: DbtProject) -> str:
        return dbt_project_fingerprint(Path(project.project_dir), project.target_path.parts[0])

    @staticmethod
    def _stamp(project: DbtProject) -> Path:
        return project.manifest_path.with_name("manifest.fingerprint")


dbt_preparer = KsonDbtProjectPreparer()


def prepare_dbt_project() -> None:
    """Parse the dbt project if it changed since the last parse (before loading definitions)."""
    dbt_preparer.prepare(dbt_project)
