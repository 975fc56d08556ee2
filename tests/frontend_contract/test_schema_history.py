"""No breaking change to the schema the frontend relies on lands without being declared."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.frontend_contract.contract import REPO
from tests.frontend_contract.schema_history import (
    BREAKING_CHANGE_MARKER,
    SCHEMA_PATH,
    compare_with_previous_commit,
)

SCHEMA_V1 = "type Query {\n  me: String\n  health: String\n}\n"
SCHEMA_V2_ADDS = "type Query {\n  me: String\n  health: String\n  models: [String!]\n}\n"
SCHEMA_V2_REMOVES = "type Query {\n  me: String\n}\n"


def test_schema_has_no_undeclared_breaking_change_since_the_previous_commit() -> None:
    history = compare_with_previous_commit(REPO)
    if history.skipped:
        pytest.skip(history.skipped)

    assert history.allowed_by_head or not history.breaking_changes, (
        f"{SCHEMA_PATH} breaks clients since the previous commit: "
        + "; ".join(history.breaking_changes)
        + f". If that is intended, put {BREAKING_CHANGE_MARKER} in the commit message."
    )


def _git(repo: Path, *args: str) -> None:
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "git",
            "-c",
            "user.name=Schema History",
            "-c",
            "user.email=schema-history@example.com",
            "-c",
            "commit.gpgsign=false",
            "-C",
            str(repo),
            *args,
        ],
        check=True,
        capture_output=True,
    )


def _commit_schema(repo: Path, schema: str, message: str) -> None:
    (repo / SCHEMA_PATH).write_text(schema)
    _git(repo, "add", SCHEMA_PATH)
    _git(repo, "commit", "--quiet", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "--quiet")
    return path


def test_a_removed_field_is_a_breaking_change(repo: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")
    _commit_schema(repo, SCHEMA_V2_REMOVES, "Drop health")

    history = compare_with_previous_commit(repo)

    assert history.skipped is None
    assert history.breaking_changes == ("FIELD_REMOVED: Field Query.health was removed.",)
    assert not history.allowed_by_head


def test_the_marker_in_heads_message_allows_a_breaking_change(repo: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")
    _commit_schema(repo, SCHEMA_V2_REMOVES, f"Drop health\n\n{BREAKING_CHANGE_MARKER}")

    history = compare_with_previous_commit(repo)

    assert history.breaking_changes
    assert history.allowed_by_head


def test_an_added_field_is_not_breaking(repo: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")
    _commit_schema(repo, SCHEMA_V2_ADDS, "Add models")

    assert compare_with_previous_commit(repo).breaking_changes == ()


def test_an_uncommitted_breaking_change_is_caught(repo: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")
    _commit_schema(repo, SCHEMA_V2_ADDS, "Add models")
    (repo / SCHEMA_PATH).write_text(SCHEMA_V2_REMOVES)

    assert compare_with_previous_commit(repo).breaking_changes


def test_the_first_commit_is_skipped(repo: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")

    assert compare_with_previous_commit(repo).skipped == (
        "first commit: there is no previous schema"
    )


def test_a_shallow_clone_is_skipped(repo: Path, tmp_path: Path) -> None:
    _commit_schema(repo, SCHEMA_V1, "First schema")
    _commit_schema(repo, SCHEMA_V2_REMOVES, "Drop health")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{repo}", str(clone))

    assert compare_with_previous_commit(clone).skipped == (
        "shallow clone: the previous commit was not fetched"
    )


def test_a_previous_commit_without_a_schema_is_skipped(repo: Path) -> None:
    (repo / "README.md").write_text("hello\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "--quiet", "-m", "README first")
    _commit_schema(repo, SCHEMA_V1, "First schema")

    assert compare_with_previous_commit(repo).skipped == "the previous commit has no schema.graphql"


def test_outside_a_git_checkout_is_skipped(tmp_path: Path) -> None:
    (tmp_path / SCHEMA_PATH).write_text(SCHEMA_V1)

    skipped = compare_with_previous_commit(tmp_path).skipped

    assert skipped is not None
    assert "not a git checkout" in skipped
