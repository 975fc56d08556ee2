"""Every error code the frontend can meet has plain words, and only codes that exist do."""

from __future__ import annotations

import re

from graphql import GraphQLEnumType

from tests.frontend_contract.contract import (
    ERROR_MESSAGES_FILE,
    REPO,
    SIGN_IN_ERROR_CODES,
    TOP_LEVEL_ERROR_CODES,
    load_error_messages,
    load_schema,
)

_CODE_LIKE = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b")


def _schema_error_codes() -> set[str]:
    enum = load_schema().get_type("ErrorCode")
    assert isinstance(enum, GraphQLEnumType), "schema.graphql has no enum ErrorCode"
    return set(enum.values)


def test_every_error_code_has_a_message() -> None:
    missing = (_schema_error_codes() | TOP_LEVEL_ERROR_CODES | SIGN_IN_ERROR_CODES) - set(
        load_error_messages()
    )

    assert not missing, f"add messages for {sorted(missing)} to {ERROR_MESSAGES_FILE.name}"


def test_no_message_for_a_code_that_no_longer_exists() -> None:
    stale = (
        set(load_error_messages())
        - _schema_error_codes()
        - TOP_LEVEL_ERROR_CODES
        - SIGN_IN_ERROR_CODES
    )

    assert not stale, f"{ERROR_MESSAGES_FILE.name} names codes the schema lacks: {sorted(stale)}"


def test_messages_are_plain_sentences_with_an_optional_action() -> None:
    for code, entry in load_error_messages().items():
        assert set(entry) <= {"message", "action"}, f"{code}: unknown keys {sorted(entry)}"
        for key in ("message", *(("action",) if "action" in entry else ())):
            text = entry[key]
            assert isinstance(text, str), f"{code}.{key} is not a string"
            assert text[:1].isupper(), f"{code}.{key} should start a sentence"
            assert text.endswith("."), f"{code}.{key} should end a sentence"
            assert not _CODE_LIKE.search(text), f"{code}.{key} shows a code, not words"


def test_the_catalogue_carries_the_agreed_wording() -> None:
    messages = load_error_messages()

    assert messages["MODEL_ACCESS_DENIED"]["message"] == (
        "Your API key does not have access to this model. Please check your subscription."
    )
    assert messages["USER_NOT_FOUND_LITELLM"]["message"] == (
        "Account setup in progress. Please try again in a moment."
    )
    assert messages["LITELLM_UNAVAILABLE"]["message"] == (
        "Service temporarily unavailable. Please try again later."
    )


def test_the_readme_says_when_each_code_is_answered() -> None:
    readme = (REPO / "README.md").read_text()

    missing = sorted(
        code for code in load_error_messages() if not re.search(rf"\b{code}\b", readme)
    )
    assert not missing, f"README.md never mentions {missing}"
