"""kson run's progress and the runs' tags, without a pipeline run: the plain lines, the bars,
the ingest's file counter, the watcher on a small run, the commit read from .git, the tags of a
run launched from the UI. `kson run` itself (progress, its run under the job): test_cli.py."""

import io
from datetime import datetime
from pathlib import Path

from orchestration.progress import Bars, Lines, counter, display_for, shown_stage, stage_of
from orchestration.run_tags import COMMIT_TAG, LANDING_TAG, TRIGGER_TAG, checkout_commit, run_tags

AT = datetime(2026, 11, 26, 14, 2, 3).timestamp()
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_plain_lines_are_timestamped_and_count_at_most_every_second():
    out = io.StringIO()
    lines = display_for(out)
    assert isinstance(lines, Lines)
    lines.started("dbt build + tests", AT)
    for done in range(1, 11):
        lines.counted("dbt build + tests", done, 10, "models", AT + done * 0.25)
    lines.ended("dbt build + tests", "done", 2.5, AT + 2.5)
    assert out.getvalue().splitlines() == [
        "2026-11-26 14:02:03 dbt build + tests: started",
        "2026-11-26 14:02:03 dbt build + tests: 1 of 10 models",
        "2026-11-26 14:02:04 dbt build + tests: 5 of 10 models",
        "2026-11-26 14:02:05 dbt build + tests: 9 of 10 models",
        "2026-11-26 14:02:05 dbt build + tests: 10 of 10 models",
        "2026-11-26 14:02:05 dbt build + tests: done (2.5 s)",
    ]


def test_bars_show_each_stage_its_count_and_outcome():
    out = io.StringIO()
    bars = Bars(out)
    bars.started("ingest kolada", AT)
    bars.counted("ingest kolada", 14, 14, "files", AT)
    bars.ended("ingest kolada", "done", 1.0, AT)
    bars.started("dbt build + tests", AT)
    bars.counted("dbt build + tests", 12, 58, "models", AT)
    bars.ended("dbt build + tests", "failed", 3.0, AT)
    bars.close()
    shown = out.getvalue()
    assert "ingest kolada: done" in shown and "14/14 files" in shown
    assert "dbt build + tests: failed" in shown and "12/58 models" in shown


def test_the_file_counter_logs_the_first_and_last_file_and_between_at_most_so_often():
    logged: list[str] = []
    count = counter(logged.append, "file", every=3600)
    for done in range(1, 101):
        count(done, 100)
    assert logged == ["file 1 of 100", "file 100 of 100"]
    logged.clear()
    count = counter(logged.append, "file", every=0)
    for done in range(1, 4):
        count(done, 3)
    assert logged == ["file 1 of 3", "file 2 of 3", "file 3 of 3"]


def test_stages_of_steps():
    assert stage_of("ingest_kolada") == "ingest"
    assert shown_stage("ingest_kolada") == "ingest kolada"
    assert shown_stage("kson_dbt_models") == "dbt build + tests"
    assert shown_stage("marts__provider_month_gx_provider_month") == "expectations"
    assert shown_stage("raw__kolada_values_freshness") == "freshness"
    assert shown_stage("serving__published_marts.publish") == "publish"
    assert shown_stage("serving__board_report") == "report"


def git_dir(root: Path, head: str) -> Path:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head + "\n", "utf-8")
    return git


def test_the_commit_is_read_from_a_branch_packed_refs_a_detached_head_and_a_worktree(tmp_path):
    branch = git_dir(tmp_path / "branch", "ref: refs/heads/main")
    (branch / "refs" / "heads" / "main").write_text(COMMIT + "\n", "utf-8")
    assert checkout_commit(tmp_path / "branch") == COMMIT

    packed = git_dir(tmp_path / "packed", "ref: refs/heads/main")
    (packed / "packed-refs").write_text(f"# pack-refs\n{COMMIT} refs/heads/main\n", "utf-8")
    assert checkout_commit(tmp_path / "packed") == COMMIT

    git_dir(tmp_path / "detached", COMMIT)
    assert checkout_commit(tmp_path / "detached") == COMMIT

    # A worktree: .git names its folder in the main repository, whose refs it shares.
    own = branch / "worktrees" / "other"
    own.mkdir(parents=True)
    (own / "HEAD").write_text("ref: refs/heads/main\n", "utf-8")
    (own / "commondir").write_text("../..\n", "utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".git").write_text(f"gitdir: {own}\n", "utf-8")
    assert checkout_commit(tmp_path / "other") == COMMIT


def test_the_commit_is_unknown_without_git_or_with_a_ref_that_is_no_commit(tmp_path):
    assert checkout_commit(tmp_path) == "unknown"
    broken = git_dir(tmp_path / "broken", "ref: refs/heads/main")
    (broken / "refs" / "heads" / "main").write_text("not a commit\n", "utf-8")
    assert checkout_commit(tmp_path / "broken") == "unknown"
    git_dir(tmp_path / "unborn", "ref: refs/heads/main")  # no commit yet
    assert checkout_commit(tmp_path / "unborn") == "unknown"


def test_the_watcher_follows_a_real_run_stage_by_stage():
    """A small run on an ephemeral instance, watched after the fact: stages in order, files and
    models counted, the failed step's stage failed, the step after it never started."""
    from dagster import (
        AssetExecutionContext,
        AssetKey,
        AssetSpec,
        DagsterInstance,
        MaterializeResult,
        asset,
        materialize,
        multi_asset,
    )

    from orchestration.progress import RunWatcher

    @asset(name="ingest_demo")
    def ingest_demo(context: AssetExecutionContext) -> None:
        count = counter(context.log.info, "file", every=0)
        for done in range(1, 4):
            count(done, 3)

    models = [AssetKey(["marts", "a"]), AssetKey(["marts", "b"])]

    @multi_asset(
        name="kson_dbt_models", specs=[AssetSpec(key, deps=["ingest_demo"]) for key in models]
    )
    def dbt_models(context: AssetExecutionContext):
        count = counter(context.log.info, "model", every=0)
        for done, key in enumerate(models, 1):
            count(done, len(models))
            yield MaterializeResult(asset_key=key)

    @asset(key_prefix="serving", deps=models)
    def published_marts() -> None:
        raise RuntimeError("the serving file cannot be written")

    @asset(key_prefix="serving", deps=[published_marts])
    def board_report() -> None:
        pass

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [ingest_demo, dbt_models, published_marts, board_report],
            instance=instance,
            raise_on_error=False,
        )
        out = io.StringIO()
        RunWatcher(instance, result.run_id, Lines(out)).finish()
    shown = [line[len("2026-11-26 14:02:03 ") :] for line in out.getvalue().splitlines()]
    assert [line.split(" (")[0] for line in shown] == [
        "ingest demo: started",
        "ingest demo: 1 of 3 files",
        "ingest demo: 3 of 3 files",
        "ingest demo: done",
        "dbt build + tests: started",
        "dbt build + tests: 1 of 2 models",
        "dbt build + tests: 2 of 2 models",
        "dbt build + tests: done",
        "publish: started",
        "publish: failed",
    ]


def test_a_run_launched_from_the_ui_gets_the_run_tags_and_a_sensor_run_keeps_its_own(workspace):
    from dagster import DagsterInstance, materialize

    from orchestration.assets.ingest import unclaimed_files
    from orchestration.resources import WarehouseResource

    with DagsterInstance.ephemeral() as instance:
        resources = {"warehouse": WarehouseResource.from_env()}
        launched = materialize([unclaimed_files], resources=resources, instance=instance)
        requested = materialize(
            [unclaimed_files],
            resources=resources,
            instance=instance,
            tags=run_tags("sensor", workspace.landing),
        )
        ui, sensor = (instance.get_run_by_id(r.run_id).tags for r in (launched, requested))
    assert ui[TRIGGER_TAG] == "UI" and sensor[TRIGGER_TAG] == "sensor"
    for tags in (ui, sensor):
        assert tags[LANDING_TAG] == str(workspace.landing.resolve())
        assert tags[COMMIT_TAG] == checkout_commit()
