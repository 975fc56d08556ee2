"""The GraphQL endpoint, GraphQL over HTTP as its specification and clients expect.

Queries over GET or POST, mutations over POST with a JSON body only: a cross-site form or
link cannot change anything, and a cross-site page cannot read an answer. Answers are
`application/graphql-response+json` when the client accepts it (a request that never
reached execution then answers 4xx with no `data`), else `application/json` (always 200).
In production only trusted documents run (`trusted_documents`).

Written here rather than configured on strawberry's view, which answers `application/json`
only (200 even when nothing ran) and serves its IDE only to URLs without `?query=`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from app.auth.session import SessionCookie
from app.graphql import ide
from app.graphql.context import Context
from app.graphql.schema import create_schema
from app.graphql.trusted_documents import DocumentRefused, TrustedDocuments, requested_document_id
from app.log_context import set_operation
from app.metrics import OTHER_OPERATION
from app.resources import Resources

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Top-level error codes of requests that never reached execution (Apollo's names).
BAD_REQUEST = "BAD_REQUEST"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"

_PARAMETERS = {
    "query": str,
    "operationName": str,
    "variables": dict,
    "extensions": dict,
    "documentId": str,
}
_KIND_NAMES = {str: "string", dict: "JSON object"}
_ALLOWED_METHODS = "GET, POST"
# The `outcome` of a GraphQL request in the metrics: answered without errors, with errors,
# or refused before it ran (not parsed, not valid, not registered, not allowed).
OK = "ok"
ERROR = "error"
REFUSED = "refused"


class RequestRefused(Exception):
    """A request answered with an HTTP error status whatever the client accepts."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class GraphQLView:
    def __init__(self, resources: Resources) -> None:
        settings = resources.settings
        self.resources = resources
        self.schema = create_schema(settings, metrics=resources.metrics)
        self.ide_enabled = settings.ide_enabled
        self.documents = TrustedDocuments.load(only=settings.trusted_documents_only)
        self.session = SessionCookie(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        if request.method == "GET" and self.ide_enabled and _wants_html(request):
            # A shared `?query=` link opens in the IDE, which reads the query from the URL.
            return ide.graphiql_page()
        started = time.perf_counter()
        operation = OTHER_OPERATION
        outcome = REFUSED
        try:
            response, operation, outcome = await self._answer(request)
            return response
        finally:
            metrics = self.resources.metrics
            metrics.graphql_operations.labels(operation=operation, outcome=outcome).inc()
            metrics.graphql_operation_duration.labels(operation=operation).observe(
                time.perf_counter() - started
            )

    async def _answer(self, request: Request) -> tuple[Response, str, str]:
        """The answer, the operation's label and the outcome (`ok`, `error`, `refused`)."""
        media_type = _media_type(request.headers.get("accept"))
        operation = OTHER_OPERATION
        try:
            if media_type is None:
                raise RequestRefused(406, f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON}.")
            params = await _parameters(request)
            operation = self.documents.operation_label(params)
            set_operation(operation)
            query = self.documents.document(
                query=params.get("query"), document_id=requested_document_id(params)
            )
            if query is None:
                raise RequestRefused(400, "The request has no GraphQL document (`query`).")
            # Resolvers may set cookies on it (signing out ends the session cookie).
            resolver_response = Response()
            result = await self._execute(request, resolver_response, query, params)
        except RequestRefused as refused:
            answer = _answer(
                {"errors": [_error(refused.message, BAD_REQUEST)]},
                media_type or JSON,
                refused.status,
                refused.headers,
            )
            return answer, operation, REFUSED
        except DocumentRefused as refused:
            # One line with our own code: nothing the client sent reaches the log.
            log.info("GraphQL document refused: %s", refused.code)
            return (
                _request_error([_error(refused.message, refused.code)], media_type),
                operation,
                REFUSED,
            )
        if _never_executed(result):
            errors = [_coded(e, result) for e in result.errors or []]
            return _request_error(errors, media_type), operation, REFUSED
        answer = _answer(process_result(result), media_type, 200)
        answer.raw_headers.extend(
            (name, value) for name, value in resolver_response.raw_headers if name == b"set-cookie"
        )
        return answer, operation, ERROR if result.errors else OK

    async def _execute(
        self, request: Request, response: Response, query: str, params: dict[str, Any]
    ) -> ExecutionResult:
        # GET changes nothing: a link or a cross-site page cannot run a mutation.
        allowed = {OperationType.QUERY}
        if request.method == "POST":
            allowed.add(OperationType.MUTATION)
        context = Context(
            request=request,
            response=response,
            resources=self.resources,
            session=self.session.session(request),
        )
        try:
            return await self.schema.execute(
                query,
                variable_values=params.get("variables"),
                context_value=context,
                operation_name=params.get("operationName"),
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as error:
            raise RequestRefused(
                405, error.as_http_error_reason(request.method), {"Allow": "POST"}
            ) from None
        except CannotGetOperationTypeError as error:
            raise DocumentRefused(
                OPERATION_RESOLUTION_FAILURE, error.as_http_error_reason()
            ) from None
        except MissingQueryError:
            raise RequestRefused(400, "The request has no GraphQL document (`query`).") from None


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _media_type(accept: str | None) -> str | None:
    """What to answer with: the specification's media type when accepted, else JSON."""
    if not accept:
        return JSON
    accepted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if GRAPHQL_RESPONSE_JSON in accepted:
        return GRAPHQL_RESPONSE_JSON
    if accepted & {JSON, "application/*", "*/*"}:
        return JSON
    return None


async def _parameters(request: Request) -> dict[str, Any]:
    """The GraphQL request: GET's query string or POST's JSON body, checked for shape."""
    if request.method == "GET":
        params: Any = {}
        for name, value in request.query_params.multi_items():
            if name in params:
                raise RequestRefused(400, f"The parameter `{name}` is repeated.")
            params[name] = value
        for name in ("variables", "extensions"):
            if name in params:
                params[name] = _json(params[name], f"`{name}`") if params[name] else None
    elif request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != JSON:
            raise RequestRefused(415, f"POST a JSON body (Content-Type: {JSON}).")
        params = _json(await request.body(), "the body")
        if not isinstance(params, dict):
            raise RequestRefused(400, "The body must be a JSON object (batches are not served).")
    else:
        raise RequestRefused(
            405, "GraphQL is served over GET and POST.", {"Allow": _ALLOWED_METHODS}
        )
    for name, kind in _PARAMETERS.items():
        if params.get(name) is not None and not isinstance(params[name], kind):
            raise RequestRefused(400, f"`{name}` must be a {_KIND_NAMES[kind]}.")
    return dict(params)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, f"{what[0].upper()}{what[1:]} is not valid JSON.") from None


def _never_executed(result: ExecutionResult) -> bool:
    """Parse, validation and variable failures: no field ran, so there is no `data`."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or [])
    )


def _coded(error: GraphQLError, result: ExecutionResult) -> dict[str, Any]:
    if isinstance(error, GraphQLSyntaxError):
        code = GRAPHQL_PARSE_FAILED
    elif isinstance(result, PreExecutionError):
        code = GRAPHQL_VALIDATION_FAILED
    else:
        code = BAD_USER_INPUT
    formatted: dict[str, Any] = dict(error.formatted)
    return {**formatted, "extensions": {**(formatted.get("extensions") or {}), "code": code}}


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _request_error(errors: list[dict[str, Any]], media_type: str | None) -> Response:
    # A request that never reached execution: 400 where the client reads the specification's
    # media type, 200 for plain JSON clients (which read only the body).
    media_type = media_type or JSON
    return _answer({"errors": errors}, media_type, 400 if media_type != JSON else 200)


def _answer(
    body: Any, media_type: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    # orjson: several times faster than json.dumps on large lists (the API-keys page).
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers=headers,
        media_type=f"{media_type}; charset=utf-8",
    )
