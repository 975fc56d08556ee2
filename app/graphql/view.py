"""The GraphQL HTTP endpoint."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.auth.session import SessionCookie
from app.graphql import ide
from app.graphql.context import Context
from app.graphql.schema import create_schema
from app.resources import Resources


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, resources: Resources) -> None:
        settings = resources.settings
        super().__init__(
            create_schema(introspection=settings.ide_enabled),
            graphql_ide="graphiql" if settings.ide_enabled else None,
            allow_queries_via_get=False,
        )
        self.resources = resources
        self.session = SessionCookie(settings)

    def decode_json(self, data: str | bytes) -> object:
        # orjson's error subclasses json.JSONDecodeError: a bad body is still a 400.
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json.dumps on large lists (the API-keys page).
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide.graphiql_page()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert isinstance(request, Request)
        assert isinstance(response, Response)
        return Context(
            request=request,
            response=response,
            resources=self.resources,
            session=self.session.session(request),
        )
