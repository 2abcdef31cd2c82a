"""The tags every run of the platform carries, shown and filterable in the UI's run history:
what started it, which landing folder it read, which commit of the checkout ran it."""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.locations import REPO_ROOT

TRIGGER_TAG = "kson/trigger"  # "kson run", "schedule", "sensor" or "UI"
LANDING_TAG = "kson/landing_dir"
COMMIT_TAG = "kson/commit"

_OBJECT_ID = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # SHA-1 or SHA-256


def run_tags(trigger: str, landing_dir: Path | str) -> dict[str, str]:
    """The tags of a run started by ``trigger`` on ``landing_dir``."""
    return {
        TRIGGER_TAG: trigger,
        LANDING_TAG: str(Path(landing_dir).resolve()),
        COMMIT_TAG: checkout_commit(),
    }


def checkout_commit(root: Path = REPO_ROOT) -> str:
    """The commit checked out at ``root``, read from ``.git`` without running git (a worktree's
    ``.git`` file and packed refs too); "unknown" when it is no git checkout."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <its folder in the main repository>"
            git = (root / git.read_text("utf-8").removeprefix("gitdir:").strip()).resolve()
        head = (git / "HEAD").read_text("utf-8").strip()
        commondir = git / "commondir"  # a worktree's refs are shared with the main repository
        common = git / commondir.read_text("utf-8").strip() if commondir.is_file() else git
    except OSError:
        return "unknown"
    if not head.startswith("ref: "):  # detached
        return head if _OBJECT_ID.fullmatch(head) else "unknown"
    ref = head.removeprefix("ref: ")
    for folder in dict.fromkeys((git, common)):
        try:
            commit = (folder / ref).read_text("utf-8").strip()
        except OSError:
            continue
        if _OBJECT_ID.fullmatch(commit):
            return commit
    try:
        packed = (common / "packed-refs").read_text("utf-8")
    except OSError:
        return "unknown"
    for line in packed.splitlines():
        commit, _, name = line.partition(" ")
        if name == ref and _OBJECT_ID.fullmatch(commit):
            return commit
    return "unknown"
