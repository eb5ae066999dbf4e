"""UDP targets: ``HOST:PORT`` parsing and a small non-blocking datagram sender shared by the OSC, VMC
and Live Link sinks."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Each protocol's standard port (kept here, with the target parser, so ``uniflg serve --help`` needs no sink).
OSC_PORT = 9000
VMC_PORT = 39539  # VMC protocol marionette
LIVELINK_PORT = 11111  # Unreal Live Link Face
LIVELINK_SUBJECT = "UniFLG"


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int | None = None) -> Target:
        """``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` (loopback) or ``HOST`` (with ``default_port``)."""
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            if default_port is None:
                raise ValueError(f"expected HOST:PORT, got {text!r}")
            host, port = text, str(default_port)
        host = host.strip("[]") or "127.0.0.1"
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(f"port out of range in {text!r}")
        return cls(host, number)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class DatagramSender:
    """Sends datagrams to one target; never blocks and never raises on a send failure (it logs once)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        info = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)[0]
        self._address = info[4]
        self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._warned = False
        self.sent = 0

    def send(self, datagram: bytes) -> None:
        try:
            self._sock.sendto(datagram, self._address)
            self.sent += 1
        except OSError as exc:  # a full buffer or an unreachable port must not stop the stream
            if not self._warned:
                log.warning("UDP send to %s failed: %s", self.target, exc)
                self._warned = True

    def close(self) -> None:
        self._sock.close()
