"""TLS material checks: asked-for security that cannot be set up refuses to start, never falls back to plaintext.

gRPC only parses certificates at the first handshake, so the server loads them with Python's ``ssl`` first:
the certificate chain must parse, the key must match it and must not be encrypted (gRPC cannot take a pass phrase,
and OpenSSL would prompt on the terminal), and a client CA bundle (mutual TLS) must parse and comes only with a
certificate and key.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path


class _PassPhraseAskedError(Exception):
    """The key is encrypted: loading it asked for a pass phrase."""


def _refuse_pass_phrase() -> bytes:
    # Given as ssl's password callback, so OpenSSL never prompts on the terminal (a hang under a terminal, an
    # OSError under systemd or docker).
    raise _PassPhraseAskedError()


ENCRYPTED_KEY = ("--tls-key is encrypted (it needs a pass phrase); encrypted keys are not supported: decrypt it once "
                 "with `openssl pkey -in key.pem -out plain.pem`, keep plain.pem readable by the server's user only "
                 "(chmod 600) and give --tls-key plain.pem")


def check_tls(cert: bytes | None, key: bytes | None, client_ca: bytes | None) -> None:
    """Raise ValueError (one line, naming the part) unless ``cert``/``key`` (PEM) load as a matching pair and
    ``client_ca`` (PEM, optional) loads as CA certificates."""
    if not cert or not key:
        missing = " and ".join(n for n, v in (("--tls-cert", cert), ("--tls-key", key)) if not v)
        raise ValueError(f"TLS needs a PEM certificate and key; {missing} {'is' if ' and ' not in missing else 'are'} "
                         "missing or empty (the server never falls back to plaintext)")
    with tempfile.TemporaryDirectory(prefix="uniflg-tls-") as folder:  # ssl loads from files only
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(cert)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(cert_file, key_file, password=_refuse_pass_phrase)
        except _PassPhraseAskedError:
            raise ValueError(ENCRYPTED_KEY) from None
        except ssl.SSLError as exc:
            reason = "the key does not match the certificate" if "KEY_VALUES_MISMATCH" in str(exc) \
                else f"they are not a PEM certificate chain and private key ({exc.reason or exc})"
            raise ValueError(f"cannot load --tls-cert/--tls-key: {reason}") from None
    if client_ca is not None:
        try:
            ssl.create_default_context(cadata=client_ca.decode("ascii"))
            if b"-----BEGIN CERTIFICATE-----" not in client_ca:
                raise ValueError
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise ValueError("cannot load --tls-client-ca: it is not a PEM bundle of CA certificates") from None
