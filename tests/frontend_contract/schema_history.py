"""Breaking changes to `schema.graphql` since the previous commit, and whether HEAD allows them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import build_schema, find_breaking_changes

BREAKING_CHANGE_MARKER = "[breaking-change]"
SCHEMA_PATH = "schema.graphql"


@dataclass(frozen=True, slots=True)
class SchemaHistory:
    """What the previous commit tells about the schema; `skipped` says why it cannot tell."""

    breaking_changes: tuple[str, ...] = ()
    allowed_by_head: bool = False
    skipped: str | None = None


def compare_with_previous_commit(repo: Path) -> SchemaHistory:
    """Compare the working tree's schema with HEAD~1's; the marker goes in HEAD's message."""
    if shutil.which("git") is None:
        return SchemaHistory(skipped="git is not installed")
    if _git(repo, "rev-parse", "--is-inside-work-tree") is None:
        return SchemaHistory(skipped=f"{repo} is not a git checkout")
    if _git(repo, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}") is None:
        if _git(repo, "rev-parse", "--is-shallow-repository") == "true":
            return SchemaHistory(skipped="shallow clone: the previous commit was not fetched")
        return SchemaHistory(skipped="first commit: there is no previous schema")
    previous = _git(repo, "show", f"HEAD~1:{SCHEMA_PATH}")
    if previous is None:
        return SchemaHistory(skipped=f"the previous commit has no {SCHEMA_PATH}")
    current = (repo / SCHEMA_PATH).read_text(encoding="utf-8")
    changes = find_breaking_changes(build_schema(previous), build_schema(current))
    message = _git(repo, "log", "-1", "--format=%B", "HEAD") or ""
    return SchemaHistory(
        breaking_changes=tuple(f"{change.type.name}: {change.description}" for change in changes),
        allowed_by_head=BREAKING_CHANGE_MARKER in message,
    )


def _git(repo: Path, *args: str) -> str | None:
    """The command's output, or None when git refuses."""
    completed = subprocess.run(  # noqa: S603 (fixed git arguments, no shell)
        ["git", "-C", str(repo), *args],  # noqa: S607 (git from PATH, as a developer runs it)
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() if completed.returncode == 0 else None
