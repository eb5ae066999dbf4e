"""The standard ``grpc.health.v1.Health`` service (Check, Watch) for the bridge's grpc.aio server.

It differs from grpc_health's reference servicer in one way: once the server shuts down, every ``Watch`` sends
NOT_SERVING and then ends (status OK). A load balancer or proxy that watches the server (Envoy, gRPC client-side
health checking) therefore does not hold a stopping server open for its whole grace period: the grace is for
streams that are still talking, and a server with none stops at once (docs/grpc.md, "Shutdown").
"""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

Status = int  # a health_pb2.HealthCheckResponse.ServingStatus value


class HealthServicer(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self._status: dict[str, Status] = {"": health_pb2.HealthCheckResponse.SERVING}
        self._changed = asyncio.Event()  # set and replaced on every change
        self.shutting_down = False

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def set(self, service: str, status: Status) -> None:
        """Set a service's status; ignored once the server is shutting down (it stays NOT_SERVING)."""
        if not self.shutting_down:
            self._status[service] = status
            self._notify()

    async def enter_graceful_shutdown(self) -> None:
        """Every service turns NOT_SERVING for good; each Watch sends it and ends."""
        if self.shutting_down:
            return
        self.shutting_down = True
        for service in self._status:
            self._status[service] = health_pb2.HealthCheckResponse.NOT_SERVING
        self._notify()

    async def Check(self, request: health_pb2.HealthCheckRequest,  # noqa: N802 - the proto's method name
                    context: grpc.aio.ServicerContext) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service[:128]!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: health_pb2.HealthCheckRequest,  # noqa: N802
                    context: grpc.aio.ServicerContext) -> None:
        """The status now, then each change; an unknown service is SERVICE_UNKNOWN until it is set. Ends after
        sending NOT_SERVING when the server shuts down."""
        last: Status | None = None
        while True:
            changed = self._changed
            status = self._status.get(request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            if status != last:
                await context.write(health_pb2.HealthCheckResponse(status=status))
                last = status
            if self.shutting_down:
                return
            await changed.wait()
