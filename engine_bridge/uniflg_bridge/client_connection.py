"""How a client reaches `uniflg serve`: plaintext or TLS (optionally mutual), with or without the bearer token.

One place for the connection options of the tools that talk to the server (examples/grpc_client.py and
``python -m uniflg_bridge.loadtest``): ``--token``/``--token-file``/``$UNIFLG_TOKEN`` (read as ``uniflg serve``
reads them), ``--tls-ca``, ``--tls-cert``/``--tls-key`` (a server started with ``--tls-client-ca``) and
``--tls-server-name`` (the name in the server certificate, when the address is an IP).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from uniflg import argtypes

from uniflg_bridge.cli import read_option_file, read_token

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ClientConnection:
    """``credentials``: None for plaintext, else TLS (with the token as call credentials: gRPC sends those only
    over a secure channel); ``metadata``: sent with every call (the token as ``authorization: Bearer`` over
    plaintext); ``options``: channel options (the TLS name override); ``token``: the bearer token, if any."""

    credentials: grpc.ChannelCredentials | None = None
    metadata: Metadata = ()
    options: tuple[tuple[str, Any], ...] = ()
    token: str | None = field(default=None, repr=False)

    @classmethod
    def plaintext(cls, token: str | None = None) -> ClientConnection:
        """No TLS; ``token`` (if any) as ``authorization: Bearer`` metadata on every call."""
        return cls(metadata=(("authorization", f"Bearer {token}"),) if token else (), token=token)

    @property
    def tls(self) -> bool:
        return self.credentials is not None

    def channel(self, target: str) -> grpc.Channel:
        """A blocking channel to ``target``."""
        if self.credentials is None:
            return grpc.insecure_channel(target, options=list(self.options))
        return grpc.secure_channel(target, self.credentials, options=list(self.options))

    def aio_channel(self, target: str) -> grpc.aio.Channel:
        """An asyncio channel to ``target``."""
        if self.credentials is None:
            return grpc.aio.insecure_channel(target, options=list(self.options))
        return grpc.aio.secure_channel(target, self.credentials, options=list(self.options))


_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")  # gRPC target names that are not HOST:PORT


def address(text: str) -> str:
    """argparse type: a non-empty HOST:PORT (or a gRPC target name such as ``unix:/path`` or ``dns:///host:port``).
    A host without a port is refused: gRPC would try port 443, and the call would time out instead of saying so."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty address: give HOST:PORT")
    if not text.startswith(_SCHEMES) and (":" not in text or text.endswith("]")):
        raise argparse.ArgumentTypeError(f"{text!r} has no port: give HOST:PORT (uniflg serve listens on "
                                         "127.0.0.1:50051 by default)")
    return text


address.__name__ = "address"  # argparse names the type in its error line


def add_connection_arguments(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """The token and TLS options. ``suppress``: the options set nothing unless given (a subcommand's copy of options
    the main parser also has, so that a value given before the subcommand is kept)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--token", default=default(None),
                        help="bearer token, if the server requires one (default: $UNIFLG_TOKEN; --token-file keeps "
                             "it out of ps)")
    parser.add_argument("--token-file", type=argtypes.path, default=default(None), metavar="PATH",
                        help="read the bearer token from this file (first line), as `uniflg serve --token-file`")
    parser.add_argument("--tls-ca", type=argtypes.path, default=default(None), metavar="PEM",
                        help="connect with TLS, trusting this server certificate or CA bundle")
    parser.add_argument("--tls-cert", type=argtypes.path, default=default(None), metavar="PEM",
                        help="client certificate chain, for a server started with --tls-client-ca (mutual TLS)")
    parser.add_argument("--tls-key", type=argtypes.path, default=default(None), metavar="PEM",
                        help="the client certificate's private key")
    parser.add_argument("--tls-server-name", default=default(None), metavar="NAME",
                        help="the name the server certificate carries, when the address is another (an IP)")


def _pem(option: str, path: Path | None) -> bytes | None:
    """The PEM file ``path`` gives (None when not given); ValueError (one line) when it cannot be read or is not PEM
    (gRPC would only find out at the handshake, and then wait out the connect timeout)."""
    data = read_option_file(option, path)
    if data is not None and b"-----BEGIN " not in data:
        raise ValueError(f"{option} {path}: not a PEM file (no -----BEGIN line)")
    return data


def client_connection(args: argparse.Namespace) -> ClientConnection:
    """The connection ``args`` ask for (the options of :func:`add_connection_arguments`); ValueError (one line) for
    TLS or token files that cannot be used, or TLS options that contradict each other."""
    ca, cert, key = (_pem(option, path) for option, path in
                     (("--tls-ca", args.tls_ca), ("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)))
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs both --tls-cert and --tls-key")
    token = read_token(args)
    if ca is None and cert is None:
        if args.tls_server_name:
            raise ValueError("--tls-server-name needs TLS: add --tls-ca (or --tls-cert/--tls-key)")
        return ClientConnection.plaintext(token)
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    if token:
        credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
    options = (("grpc.ssl_target_name_override", args.tls_server_name),) if args.tls_server_name else ()
    return ClientConnection(credentials, (), options, token)


def unreachable_hint(connection: ClientConnection, address_option: str, target: str | None = None) -> str:
    """What to check when no server answered within the connect timeout (a failed TLS handshake looks the same);
    with ``target`` (HOST:PORT), a host name that does not resolve is named as that."""
    host = None if target is None or target.startswith(_SCHEMES) else target.rsplit(":", 1)[0].strip("[]")
    if host:
        import socket

        try:
            socket.getaddrinfo(host, None)
        except (OSError, UnicodeError) as exc:
            return f"cannot resolve the host {host!r} ({exc}): check the name in {address_option}"
    if connection.tls:
        return (f"is `uniflg serve` running there with TLS? --tls-ca must hold its certificate, the name in it match "
                f"{address_option} or --tls-server-name, and a server that asks for client certificates needs "
                "--tls-cert/--tls-key")
    return f"is `uniflg serve` running there? check {address_option} HOST:PORT; a TLS server needs --tls-ca"
