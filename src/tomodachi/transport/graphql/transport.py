"""``GraphQLTransport``: the service's ``@graphql_*`` resolvers, served on its own HTTP server.

Written on the public kit only: the options are a registered section (``graphql.*``), the
endpoint is mounted with :func:`tomodachi.transport.http.mount` in ``setup()``, the production
defaults come from :attr:`tomodachi.Runtime.production`, and the service's ``http_middleware``
is compiled around the endpoint with :func:`tomodachi.injection.compile_middleware_chain`.
graphql-core is imported in ``setup()``, so declaring resolvers (and ``import tomodachi``) does
not need it, and a missing install is one start-up line naming the extra.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

from tomodachi.errors import ConfigurationError
from tomodachi.logging import get_logger
from tomodachi.transport.base import Transport
from tomodachi.transport.graphql.options import GraphQLOptions

if TYPE_CHECKING:
    from tomodachi.transport.graphql.websocket import Connections

__all__ = ["GraphQLTransport"]


class GraphQLTransport(Transport):
    """Serves the GraphQL schema of one service (``graphql_schema`` plus its decorated resolvers)."""

    kind = "graphql"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings: GraphQLOptions | None = None
        #: Whether introspection and the GraphiQL page are on (decided in ``setup()``).
        self.introspection = False
        self.graphiql = False
        self.connections: Connections | None = None

    async def setup(self) -> None:
        try:
            import graphql  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                'GraphQL resolvers need graphql-core: pip install "tomodachi[graphql]"'
            ) from None
        from tomodachi.transport.graphql.endpoint import GraphQLEndpoint
        from tomodachi.transport.graphql.execution import Executor
        from tomodachi.transport.graphql.schema import bind_resolvers, load_schema
        from tomodachi.transport.graphql.websocket import Connections
        from tomodachi.transport.http import mount

        settings = self.service.options.section(GraphQLOptions)
        self.settings = settings
        production = self.runtime.production
        self.introspection = settings.introspection if settings.introspection is not None else not production
        self.graphiql = settings.graphiql if settings.graphiql is not None else not production
        schema = load_schema(getattr(self.service, "graphql_schema", None), self._service_file(), "graphql")
        unresolved = bind_resolvers(schema, self.handlers, mask_errors=settings.mask_errors)
        if unresolved:
            get_logger("tomodachi.graphql").warning(
                "graphql root fields without a resolver answer null", fields=unresolved
            )
        executor = Executor(schema, settings, introspection=self.introspection)
        self.connections = Connections(
            self.service,
            executor,
            init_timeout=float(settings.connection_init_timeout),
            max_operations=settings.max_subscriptions,
            max_message_size=int(self.service.options["http.client_max_size"]),
        )
        endpoint = GraphQLEndpoint(
            self.service,
            executor,
            self.connections,
            graphiql=self.graphiql,
            middlewares=list(getattr(self.service, "http_middleware", None) or []),
        )
        mount(self.service, self.runtime, ["GET", "POST"], re.escape(settings.path), endpoint, name="graphql")

    def _service_file(self) -> str | None:
        record = self.runtime.record(self.service)
        if record is not None and record.source and record.source.endswith(".py"):
            return record.source
        module = sys.modules.get(type(self.service).__module__)
        return getattr(module, "__file__", None)

    async def stop(self) -> None:
        """Complete the running subscriptions and close the websockets (1001), then the default."""
        if self.connections is not None:
            await self.connections.shutdown()
        await super().stop()
