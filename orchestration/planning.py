"""What a run has to do, decided from what is recorded, never by running dbt.

Nothing (a quiet night), when every landing file was seen by a run that completed (reached
the publish step), no loaded file was withdrawn since, and the project is as the last
completed run built it: the Python code of ingest/, orchestration/ and expectations/ with the
stack's versions, the dbt vars, and the dbt project (a fingerprint of its files' names, sizes
and times; when that differs, the manifest's per-node checksums say which seeds, models and
tests changed). Otherwise its share: the families with new or changed files (or a withdrawn
file, or files a run that did not complete saw), the dbt models downstream of them and of the
changed dbt nodes, their checks, the publish step and the report. Changed code or vars, or no
completed run yet: everything.

Recorded in the build database:

- ``meta.landing_seen``: per landing file (by the sha256 of its path, which may hold personal
  data), its size and mtime as the ingest asset saw them before reading it, and whether a run
  that ingested it completed. A file whose size or mtime differ is hashed: bytes already
  loaded (from any path) or quarantined by the same family are nothing new.
- ``meta.run_state``: per completed run (written by the publish step), the families it
  ingested and the project state it built; dbt nodes it did not build keep the checksum
  recorded before, and code and vars are recorded only by a run of everything.

No Dagster or dbt import at module level: ``kson run`` decides a quiet night in well under a
second (the functions that need Dagster import it themselves).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import yaml

from ingest.landing import UNCLAIMED, sha256_of, unclaimed_files
from ingest.registry import FAMILIES
from orchestration.locations import REPO_ROOT

if TYPE_CHECKING:
    from dagster import AssetKey
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT_TARGET = "target"
CODE_DIRS = ("ingest", "orchestration", "expectations")
# Versions whose change may change what a run builds (dbt's macros, the readers' parsing).
STACK = ("dbt-core", "dbt-duckdb", "dagster", "dagster-dbt", "duckdb", "polars")
# What decides what a dbt node builds or checks (not where it was parsed or when).
DEFINITION = (
    "checksum",
    "config",
    "description",
    "columns",
    "contract",
    "constraints",
    "test_metadata",
    "given",
    "expect",
    "overrides",
)

STATE_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.landing_seen (
    path_key   VARCHAR PRIMARY KEY,  -- sha256 of the landing path (a name may hold personal data)
    source     VARCHAR NOT NULL,     -- the family, or 'unclaimed'
    size_bytes BIGINT NOT NULL,
    mtime_ns   BIGINT NOT NULL,      -- as seen before the file was read
    seen_at    TIMESTAMPTZ NOT NULL,
    completed  BOOLEAN NOT NULL      -- a run that ingested it reached the publish step
);
CREATE TABLE IF NOT EXISTS meta.run_state (
    run_id       VARCHAR NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL,
    sources      VARCHAR[] NOT NULL,  -- the families (and 'unclaimed') it ingested
    code         VARCHAR,             -- fingerprints of the project state built; null: unknown
    dbt_vars     VARCHAR,
    dbt_project  VARCHAR,
    nodes        VARCHAR NOT NULL     -- JSON: dbt unique_id -> checksum of its definition
);
"""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the project's state --------------------------------------------------------------------


def code_fingerprint(root: Path = REPO_ROOT) -> str:
    """The content of every file under ``CODE_DIRS`` and the stack's versions."""
    parts = [f"{name}={installed_version(name)}" for name in STACK]
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                parts.append(f"{path.relative_to(root).as_posix()}:{digest}")
    return _sha256("\n".join(parts))


def vars_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The dbt project's vars (``dbt_project.yml``): models read them, and their definitions
    (``node_checksums``) do not show them, so a changed var rebuilds everything."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return _sha256(json.dumps(project.get("vars") or {}, sort_keys=True, default=str))


def dbt_project_fingerprint(project_dir: Path = DBT_PROJECT_DIR, target: str = DBT_TARGET) -> str:
    """Names, sizes and times of the files dbt reads, and the dbt and dagster-dbt versions:
    when it is what the manifest was parsed from, the manifest is current."""
    generated = {target, "logs", "dbt_packages"}  # not walked: a run leaves a folder in target
    files = sorted(
        path
        for top in project_dir.iterdir()
        if top.name not in generated
        for path in (top.rglob("*") if top.is_dir() else [top])
        if path.is_file() and path.suffix in {".sql", ".yml", ".yaml", ".csv", ".md"}
    )
    listing = [
        f"{path.relative_to(project_dir)}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
        for path in files
    ]
    versions = [installed_version("dbt-core"), installed_version("dagster-dbt")]
    return _sha256("\n".join(versions + listing))


def parsed_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str | None:
    """The fingerprint of the project files the manifest was parsed from (written beside it
    by ``orchestration.resources.KsonDbtProjectPreparer``)."""
    stamp = project_dir / DBT_TARGET / "manifest.fingerprint"
    return stamp.read_text(encoding="utf-8") if stamp.exists() else None


def node_checksums(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Per node of the dbt project (seed, model, test, unit test, source): a checksum of its
    definition, the project macros it uses included."""
    project = manifest["metadata"].get("project_name")
    macros = manifest.get("macros", {})

    def macro_sql(ids: Iterable[str], seen: set[str]) -> None:
        for uid in ids:
            macro = macros.get(uid)
            if macro is not None and macro["package_name"] == project and uid not in seen:
                seen.add(uid)
                macro_sql(macro.get("depends_on", {}).get("macros", []), seen)

    checksums = {}
    for group in ("nodes", "sources", "unit_tests"):
        for uid, node in manifest.get(group, {}).items():
            if node.get("package_name") != project:
                continue
            used: set[str] = set()
            macro_sql(node.get("depends_on", {}).get("macros", []), used)
            definition = {name: node.get(name) for name in DEFINITION}
            definition["macros"] = [macros[uid]["macro_sql"] for uid in sorted(used)]
            checksums[uid] = _sha256(json.dumps(definition, sort_keys=True, default=str))
    return checksums


# --- what the runs saw ----------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    """A landing file as seen before it is read."""

    source: str
    path: Path
    path_key: str
    size: int
    mtime_ns: int


def landed_files(landing_dir: Path, sources: Iterable[str] | None = None) -> list[Landed]:
    """The files in the landing folder (of ``sources`` only, when given): each family's, and
    those no family takes (``UNCLAIMED``), with their size and mtime."""
    wanted = set(FAMILIES) | {UNCLAIMED} if sources is None else set(sources)
    paths = [
        (name, path)
        for name, family in FAMILIES.items()
        if name in wanted
        for path in family.landing_files(landing_dir)
    ]
    if UNCLAIMED in wanted:
        paths += [(UNCLAIMED, path) for path in unclaimed_files(FAMILIES.values(), landing_dir)]
    files = []
    for source, path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:  # gone while listed
            continue
        relative = path.relative_to(landing_dir).as_posix()
        files.append(Landed(source, path, _sha256(relative), stat.st_size, stat.st_mtime_ns))
    return files


def record_seen(con: duckdb.DuckDBPyConnection, source: str, files: list[Landed]) -> None:
    """Record the landing files of ``source`` about to be ingested (before they are read), not
    yet completed: the publish step of the run marks them completed."""
    con.execute(STATE_DDL)
    keys = [f.path_key for f in files]
    con.begin()
    try:
        con.execute(
            "DELETE FROM meta.landing_seen WHERE source = ? OR list_contains(?, path_key)",
            [source, keys],
        )
        con.execute(
            "INSERT INTO meta.landing_seen SELECT unnest(?), ?, unnest(?), unnest(?), now(), false",
            [keys, source, [f.size for f in files], [f.mtime_ns for f in files]],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


@dataclass(frozen=True)
class LastRun:
    run_id: str
    completed_at: datetime
    code: str | None
    dbt_vars: str | None
    dbt_project: str | None
    nodes: dict[str, str]


def last_run(con: duckdb.DuckDBPyConnection) -> LastRun | None:
    """The last run that completed (reached the publish step), if any."""
    try:
        row = con.execute(
            "SELECT run_id, completed_at, code, dbt_vars, dbt_project, nodes FROM meta.run_state "
            "ORDER BY completed_at DESC LIMIT 1"
        ).fetchone()
    except duckdb.CatalogException:  # a build database of before planning, or none yet
        return None
    if row is None:
        return None
    *fields, nodes = row
    return LastRun(*fields, nodes=json.loads(nodes))


# --- the plan -------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a run has to do."""

    last_run: LastRun | None
    files: int  # landing files looked at
    sources: dict[str, str] = field(default_factory=dict)  # family -> why it is ingested
    changed: list[str] = field(default_factory=list)  # what changed that needs everything
    dbt_project_changed: bool = False  # its files differ from what the last run built
    changed_nodes: list[str] | None = None  # dbt nodes changed since (None: not looked at)
    touched: list[Landed] = field(default_factory=list)  # new size/mtime, content known
    new: list[Landed] = field(default_factory=list)  # new or changed landing files

    @property
    def everything(self) -> bool:
        return bool(self.changed)

    @property
    def needs_manifest(self) -> bool:
        """Whether the changed dbt nodes must be read from the (parsed) manifest."""
        return not self.everything and self.dbt_project_changed and self.changed_nodes is None

    @property
    def quiet(self) -> bool:
        return (
            not self.everything
            and not self.sources
            and (not self.dbt_project_changed or self.changed_nodes == [])
        )

    def with_manifest(self, manifest: Mapping[str, Any]) -> Plan:
        """The plan with the dbt nodes whose definition changed since the last run."""
        if self.last_run is None:
            return self
        recorded = self.last_run.nodes
        current = node_checksums(manifest)
        self.changed_nodes = sorted(uid for uid in current if recorded.get(uid) != current[uid])
        return self

    def reason(self) -> str:
        """Why the run does what it does, in one line."""
        last = self.last_run
        since = (
            f"run {last.run_id} at {last.completed_at:%Y-%m-%d %H:%M:%S %Z}" if last else "no run"
        )
        if self.quiet:
            touched = " (dbt project files touched, no model changed)" * self.dbt_project_changed
            return (
                f"nothing new since {since}: {self.files} landing files unchanged, project "
                f"unchanged{touched}"
            )
        if self.everything:
            return f"everything: {', '.join(self.changed)}"
        todo = [f"{source}: {why}" for source, why in sorted(self.sources.items())]
        if self.changed_nodes:
            shown = ", ".join(uid.split(".", 1)[-1] for uid in self.changed_nodes[:5])
            more = f" and {len(self.changed_nodes) - 5} more" * (len(self.changed_nodes) > 5)
            todo.append(f"dbt: {len(self.changed_nodes)} node(s) changed ({shown}{more})")
        elif self.dbt_project_changed:
            todo.append("dbt: project files changed")
        return f"since {since}: {'; '.join(todo)}"

    def key(self) -> str:
        """The same for the same work to do (a sensor's run key)."""
        state = [
            self.last_run.run_id if self.last_run else "",
            *self.changed,
            *sorted(f"{s}:{why}" for s, why in self.sources.items()),
            *sorted(f"{f.path_key}:{f.size}:{f.mtime_ns}" for f in self.new),
            *(self.changed_nodes or []),
        ]
        return _sha256("\n".join(state))[:32]


def plan_run(landing_dir: Path, build_db: Path) -> Plan:
    """The plan from what is recorded in ``build_db`` and the landing folder (read-only: the
    build database must not be held by a writer)."""
    files = landed_files(landing_dir)
    if not build_db.exists():
        return Plan(None, len(files), changed=["no completed run yet"])
    with duckdb.connect(str(build_db), read_only=True) as con:
        if (last := last_run(con)) is None:
            return Plan(None, len(files), changed=["no completed run yet"])
        sources, touched, new = _sources_with_news(con, files)
    changed = [
        what
        for what, now, then in (
            ("the code changed", code_fingerprint(), last.code),
            ("the dbt vars changed", vars_fingerprint(), last.dbt_vars),
        )
        if now != then
    ]
    return Plan(
        last,
        len(files),
        sources,
        changed,
        dbt_project_changed=dbt_project_fingerprint() != last.dbt_project,
        touched=touched,
        new=new,
    )


def _sources_with_news(
    con: duckdb.DuckDBPyConnection, files: list[Landed]
) -> tuple[dict[str, str], list[Landed], list[Landed]]:
    """Per source, why it must be ingested: new or changed files, files seen by a run that did
    not complete, files withdrawn since its last completed run. And the files whose size or
    mtime changed but not their content, and the new or changed ones."""
    seen = {
        key: (source, size, mtime)
        for key, source, size, mtime in con.execute(
            "SELECT path_key, source, size_bytes, mtime_ns FROM meta.landing_seen"
        ).fetchall()
    }
    why: dict[str, list[str]] = {}
    unfinished = con.execute(
        "SELECT source, count(*) FROM meta.landing_seen WHERE NOT completed GROUP BY source"
    ).fetchall()
    for source, count in unfinished:
        why.setdefault(source, []).append(f"{count} file(s) of a run that did not complete")
    differing = [f for f in files if seen.get(f.path_key) != (f.source, f.size, f.mtime_ns)]
    touched, new = [], []
    if differing:
        hashes = {f.path_key: sha256_of(f.path) for f in differing}
        known = {
            (sha, source)
            for sha, source in con.execute(
                "SELECT sha256, NULL FROM raw.load_log WHERE list_contains($1, sha256) UNION "
                "SELECT sha256, source FROM raw.quarantine_log WHERE list_contains($1, sha256)",
                [list(hashes.values())],
            ).fetchall()
        }
        for f in differing:
            sha = hashes[f.path_key]
            (touched if (sha, None) in known or (sha, f.source) in known else new).append(f)
    for source, count in Counter(f.source for f in new).items():
        why.setdefault(source, []).append(f"{count} new or changed file(s)")
    withdrawn = con.execute(
        "SELECT source, count(*) FROM raw.load_log AS l WHERE withdrawn_at > coalesce(("
        "SELECT max(completed_at) FROM meta.run_state WHERE list_contains(sources, l.source)), "
        "'-infinity'::TIMESTAMPTZ) GROUP BY source"
    ).fetchall()
    for source, count in withdrawn:
        why.setdefault(source, []).append(f"{count} file(s) withdrawn")
    return {source: ", ".join(reasons) for source, reasons in why.items()}, touched, new


def refresh_touched(con: duckdb.DuckDBPyConnection, touched: list[Landed]) -> None:
    """Record the new size and mtime of files whose content a run has seen already (so that
    they are not hashed again)."""
    for f in touched:
        con.execute(
            "INSERT OR REPLACE INTO meta.landing_seen VALUES (?, ?, ?, ?, now(), true)",
            [f.path_key, f.source, f.size, f.mtime_ns],
        )


def confirm_dbt_project(con: duckdb.DuckDBPyConnection, last: LastRun, fingerprint: str) -> None:
    """The dbt project's files changed but none of its nodes: record the new fingerprint."""
    con.execute(
        "UPDATE meta.run_state SET dbt_project = ? WHERE run_id = ? AND completed_at = ?",
        [fingerprint, last.run_id, last.completed_at],
    )


# --- Dagster: selections and the record of a completed run -----------------------------------


def source_assets() -> dict[str, set[AssetKey]]:
    """Per source (family, or ``UNCLAIMED``), the keys of its ingest asset."""
    from orchestration.assets.ingest import ingest_assets, unclaimed_files

    by_op = {assets.op.name: set(assets.keys) for assets in ingest_assets}
    return {
        **{name: by_op[f"ingest_{name}"] for name in FAMILIES},
        UNCLAIMED: set(unclaimed_files.keys),
    }


def node_assets(manifest: Mapping[str, Any], uids: Iterable[str]) -> set[AssetKey]:
    """The assets that build dbt nodes ``uids``: a model's or seed's own; for a test, the
    model it tests (else what it reads); for a source, the models reading it."""
    from orchestration.assets.dbt import KsonDbtTranslator

    translator = KsonDbtTranslator()
    nodes = manifest["nodes"]

    def built(uid: str) -> bool:
        return uid in nodes and nodes[uid]["resource_type"] in ("model", "seed", "snapshot")

    keys = set()
    for uid in uids:
        if built(uid):
            keys.add(translator.get_asset_key(nodes[uid]))
            continue
        if uid.startswith("source."):
            reads = manifest["child_map"].get(uid, [])
        else:
            node = manifest["unit_tests"].get(uid) or nodes.get(uid, {})
            attached = node.get("attached_node")
            reads = [attached] if attached else node.get("depends_on", {}).get("nodes", [])
        reads = [read for read in reads if built(read)]
        models = [read for read in reads if nodes[read]["resource_type"] == "model"]
        keys |= {translator.get_asset_key(nodes[read]) for read in models or reads}
    return keys


def selected_assets(
    plan: Plan, graph: BaseAssetGraph, manifest: Mapping[str, Any]
) -> set[AssetKey] | None:
    """The assets a run of ``plan`` materializes (None: all). The publish step always (it
    records the run as completed); the report when a mart is in the run."""
    from orchestration.assets.publish import PUBLISHED_MARTS

    if plan.everything:
        return None
    by_source = source_assets()
    roots = {key for source in plan.sources for key in by_source.get(source, ())}
    roots |= node_assets(manifest, plan.changed_nodes or [])
    return downstream(roots, graph) | {PUBLISHED_MARTS}


def planned_run_config(plan: Plan, selection: set[AssetKey] | None) -> dict[str, Any]:
    """The run config of a run of ``plan`` over ``selection``: without dbt's unit tests when
    only new data is in it (they test each model's logic on fixed inputs: data cannot change
    their outcome); a changed dbt node or a run of everything has them."""
    from orchestration.assets.dbt import kson_dbt_models

    if plan.everything or plan.changed_nodes:
        return {}
    if selection is not None and not selection & set(kson_dbt_models.keys):
        return {}  # no dbt step in the run
    return {"ops": {kson_dbt_models.op.name: {"config": {"unit_tests": False}}}}


def replay_selection(
    names: Iterable[str], graph: BaseAssetGraph
) -> tuple[set[AssetKey], dict[str, Any]]:
    """The assets and run config of a replay (``kson run --select``): a family (by name) is
    read again from the archive, a mart (by name) rebuilt; with what is built from them. A
    family's replay rebuilds the incremental models downstream from all their rows (dbt
    ``--full-refresh``): a replayed file keeps its file_id."""
    from dagster import AssetKey

    by_source = source_assets()
    roots: set[AssetKey] = set()
    replayed = {}
    for name in names:
        if name in FAMILIES:
            roots |= by_source[name]
            replayed[f"ingest_{name}"] = {"config": {"replay": True}}
        else:
            roots.add(AssetKey(["marts", name]))
    if replayed:
        replayed["kson_dbt_models"] = {"config": {"full_refresh": True}}
    return downstream(roots, graph), {"ops": replayed} if replayed else {}


def downstream(roots: Iterable[AssetKey], graph: BaseAssetGraph) -> set[AssetKey]:
    """``roots`` and every asset built from them (that a run can materialize)."""
    from dagster import AssetSelection

    executable = set(graph.executable_asset_keys)
    roots = set(roots) & executable
    if not roots:
        return set()
    return set(AssetSelection.assets(*roots).downstream().resolve(graph)) & executable


def record_completed_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    planned: set[AssetKey],
    graph: BaseAssetGraph,
    manifest: Mapping[str, Any],
) -> None:
    """The run reached the publish step: the landing files of the sources it ingested are
    seen, and the project state it built is recorded (what it did not build keeps its record)."""
    con.execute(STATE_DDL)
    full = set(graph.executable_asset_keys) <= planned
    sources = sorted(source for source, keys in source_assets().items() if keys & planned)
    previous = last_run(con)
    current = node_checksums(manifest)
    nodes = {} if previous is None else dict(previous.nodes)
    for uid, checksum in current.items():
        if full or node_assets(manifest, [uid]) & planned:
            nodes[uid] = checksum
    nodes = {uid: checksum for uid, checksum in nodes.items() if uid in current}
    code = code_fingerprint() if full else previous and previous.code
    variables = vars_fingerprint() if full else previous and previous.dbt_vars
    project = parsed_fingerprint() if nodes == current else previous and previous.dbt_project
    con.begin()
    try:
        con.execute(
            "UPDATE meta.landing_seen SET completed = true WHERE list_contains(?, source)",
            [sources],
        )
        con.execute(
            "INSERT INTO meta.run_state VALUES (?, now(), ?, ?, ?, ?, ?)",
            [run_id, sources, code, variables, project, json.dumps(nodes, sort_keys=True)],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
