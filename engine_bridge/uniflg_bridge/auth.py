"""Bearer-token authentication as a server interceptor.

Every method except the standard health and reflection services needs the metadata
``authorization: Bearer <token>`` when the server has a token. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from uniflg_bridge.status import AuthError, status_for

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def check_token(metadata: tuple[tuple[str, Any], ...] | None, token: str) -> None:
    """Raise AuthError unless ``metadata`` carries ``authorization: Bearer <token>``."""
    values = [v for k, v in (metadata or ()) if k == "authorization"]
    if not values:
        raise AuthError("missing 'authorization: Bearer <token>' metadata")
    scheme, _, given = str(values[0]).partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError("the 'authorization' metadata must read 'Bearer <token>'")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthError("invalid bearer token")


def _denied(handler: grpc.RpcMethodHandler, exc: AuthError) -> grpc.RpcMethodHandler:
    refusal = status_for(exc)

    async def unary(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(refusal.code, refusal.message)

    async def streaming(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(refusal.code, refusal.message)
        yield  # pragma: no cover - makes this an async generator

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(streaming)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary)
    return grpc.unary_unary_rpc_method_handler(unary)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an empty token would accept everyone")
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        try:
            check_token(details.invocation_metadata, self._token)
        except AuthError as exc:
            log.info("rejected %s: %s", details.method, exc)
            return _denied(handler, exc)
        return handler
