"""UDP targets: ``HOST:PORT`` parsing (checked and resolved at start-up) and a small non-blocking datagram sender
shared by the OSC, VMC and Live Link sinks, which counts its failures per target."""

from __future__ import annotations

import collections
import errno
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
_WARNED: set[str] = set()  # bare IPv6 targets whose last group looks like a port, already warned about

# Each protocol's standard port (kept here, with the target parser, so ``uniflg serve --help`` needs no sink).
OSC_PORT = 9000
VMC_PORT = 39539  # VMC protocol marionette
LIVELINK_PORT = 11111  # Unreal Live Link Face
LIVELINK_SUBJECT = "UniFLG"
MAX_DATAGRAM = 1400  # bytes: one 1,500-byte Ethernet frame holds it with IP and UDP headers (no fragments)
LOOPBACK_MAX_DATAGRAM = 65507  # the most a UDP/IPv4 datagram can carry
REPORT_EVERY = 30.0  # seconds between a target's failure summaries


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses; wildcard binds (0.0.0.0, [::]) are not."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int | None = None, allow_port_zero: bool = False) -> Target:
        """``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` (loopback), or ``HOST`` / ``[v6]`` / a bare IPv6 address with
        ``default_port``; ValueError (one line) for a port that is not a number in 1..65535 (0 also with
        ``allow_port_zero``: "pick a free port"). An empty text is refused (``--vmc "$HOST"`` with HOST unset
        would otherwise send to loopback without a word)."""
        if not text.strip():
            raise ValueError("an empty target")
        if text.startswith("["):
            host, close, rest = text[1:].partition("]")
            if not close or (rest and not rest.startswith(":")):
                raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
            port = rest[1:] if rest else None
        elif text.count(":") > 1:  # a bare IPv6 address (a host name has no colon)
            try:
                ipaddress.IPv6Address(text)
            except ValueError:
                raise ValueError(f"{text!r} is neither HOST:PORT nor an IPv6 address (write [IPv6]:PORT)") from None
            host, port = text, None
            last = text.rsplit(":", 1)[1]
            if last.isdigit() and len(last) >= 2 and default_port is not None and text not in _WARNED:
                _WARNED.add(text)  # "::1:9000": meant [::1]:9000? (said once: targets are parsed more than once)
                log.warning("%s is read as the IPv6 address [%s] on the default port %s; to send to %s on port %s, "
                            "write [%s]:%s", text, text, default_port, text.rsplit(":", 1)[0], last,
                            text.rsplit(":", 1)[0], last)
        else:
            host, sep, port_text = text.partition(":")
            port = port_text if sep else None
        if port is None:
            if default_port is None:
                raise ValueError(f"expected HOST:PORT, got {text!r}")
            port = str(default_port)
        if port.startswith("-") and port[1:].isascii() and port[1:].isdigit():
            raise ValueError(f"the port in {text!r} is outside {0 if allow_port_zero else 1}..65535")
        if not (port.isascii() and port.isdigit()):  # not ² or a full-width ９
            raise ValueError(f"the port in {text!r} is not a number")
        number = int(port)
        if not (0 if allow_port_zero else 1) <= number <= 65535:
            raise ValueError(f"the port in {text!r} is outside {0 if allow_port_zero else 1}..65535")
        return cls(host or "127.0.0.1", number)

    def __post_init__(self) -> None:
        if self.host == "":  # Target("", 9000) prints as :9000, which parse reads as loopback: the same here
            object.__setattr__(self, "host", "127.0.0.1")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"the port of {self.host!r} must be a whole number in 1..65535 (0 only to bind); "
                             f"got {self.port!r}")

    def resolve(self) -> tuple[int, tuple]:  # type: ignore[type-arg]
        """-> (address family, socket address); ValueError (one line) when the host does not resolve."""
        try:
            info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as exc:
            raise ValueError(f"cannot resolve host {self.host!r} of {self}: {exc}") from None
        return info[0], info[4]

    def check_sendable(self) -> None:
        """Resolve, then connect a UDP socket as a sender will: ValueError (one line) for a host that does not
        resolve or an address datagrams cannot be sent to (a broadcast address, without SO_BROADCAST)."""
        family, address = self.resolve()
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect(address)
        except OSError as exc:
            if self.host.lower().startswith("fe80") and "%" not in self.host:
                raise ValueError(f"cannot send there: a link-local IPv6 address needs its interface, e.g. "
                                 f"[{self.host}%eth0]:{self.port}") from None
            raise ValueError(f"cannot send there ({exc.strerror or exc}; broadcast addresses are not "
                             "supported)") from None

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class DatagramSender:
    """Sends datagrams to one target; never blocks and never raises on a send failure.

    The socket is connected, so the kernel reports ICMP errors (a closed port on the target) on later sends;
    failures are counted by reason (``failures``), the first one of each reason is logged at once, and later
    ones as a summary per target at most every 30 s (and when the sender closes)."""

    def __init__(self, target: Target, max_datagram: int = MAX_DATAGRAM) -> None:
        if target.port == 0:
            raise ValueError(f"cannot send to {target}: port 0 only picks a free port to bind; give 1..65535")
        self.target = target
        self.max_datagram = max_datagram
        family, address = target.resolve()
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._sock.connect(address)
        self.sent = 0
        self.failures: collections.Counter[str] = collections.Counter()
        self._unreported = 0
        self._reported_at = time.monotonic()

    def send(self, datagram: bytes) -> None:
        if len(datagram) > self.max_datagram:
            self._failed(f"datagram of {len(datagram)} bytes over the {self.max_datagram}-byte limit")
            return
        try:
            self._sock.send(datagram)
            self.sent += 1
        except OSError as exc:  # a full buffer or an unreachable port must not stop the stream
            self._failed(errno.errorcode.get(exc.errno or 0, type(exc).__name__) + f" ({exc.strerror or exc})")

    def _failed(self, reason: str) -> None:
        first = reason not in self.failures
        self.failures[reason] += 1
        if first:
            log.warning("UDP send to %s failed: %s (further failures are counted)", self.target, reason)
            self._reported_at = time.monotonic()  # the next summary comes 30 s after this line, not at once
            return
        self._unreported += 1
        if time.monotonic() - self._reported_at >= REPORT_EVERY:
            self.report()

    def report(self) -> None:
        """Log the failures not yet reported (one line per target)."""
        if self._unreported:
            counts = ", ".join(f"{n} x {reason}" for reason, n in self.failures.most_common())
            log.warning("UDP to %s: %d more send failures (total: %s; %d sent)", self.target, self._unreported,
                        counts, self.sent)
        self._unreported = 0
        self._reported_at = time.monotonic()

    def close(self) -> None:
        self.report()
        self._sock.close()
