"""Server settings (:class:`ServerConfig`) and their checks. Light on purpose: ``uniflg serve --help`` reads the
defaults from here without importing gRPC."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from uniflg.limits import check_seed

from uniflg_bridge.tls import check_tls
from uniflg_bridge.udp import is_loopback

# ServerConfig fields -> the `uniflg serve` options that set them (errors name what the user typed)
_OPTION = {"max_streams": "--max-streams", "max_text_chars": "--max-text-chars",
           "max_audio_seconds": "--max-audio-seconds", "header_timeout": "--header-timeout",
           "idle_timeout": "--idle-timeout", "queue_size": "--queue", "queue_wait": "--queue-wait",
           "grace_seconds": "--grace", "buffer_seconds": "buffer_seconds"}


@dataclass(frozen=True)
class ServerConfig:
    """Server settings; every time is in seconds. The defaults serve 16 concurrent streams on 2 cores."""

    bind: str = "127.0.0.1:50051"
    max_streams: int = 16        # streams running inference at once
    queue_size: int = 16         # calls waiting for a slot beyond those; more are refused (UNAVAILABLE)
    queue_wait: float = 10.0     # longest wait in the queue before a refusal (UNAVAILABLE)
    # An overall cap; None: the largest of the SDK's per-language limits (uniflg.text.MAX_CHARS: Japanese 1000,
    # English 3000; docs/frontend.md), which the SDK applies per language after splitting at sentence ends.
    max_text_chars: int | None = None
    max_audio_seconds: float = 300.0
    max_message_bytes: int = 4 * 1024 * 1024
    header_timeout: float = 10.0  # Animate: from the call to its AudioHeader
    idle_timeout: float = 30.0    # Animate: the longest gap between audio messages; any stream: an unread answer
    buffer_seconds: float = 10.0  # Animate: received audio waiting for inference (then the upload is paused)
    token: str | None = field(default=None, repr=False)
    tls_cert: bytes | None = field(default=None, repr=False)
    tls_key: bytes | None = field(default=None, repr=False)
    tls_client_ca: bytes | None = field(default=None, repr=False)
    grace_seconds: float = 30.0
    workers: int | None = None  # inference threads; default max_streams + 2
    blinks: bool = True  # run-time blinks in the blendshapes (uniflg.blinks); landmarks are left as decoded
    blink_seed: int = 0  # stream k of this server blinks with the seed (blink_seed, k)

    @property
    def tls(self) -> bool:
        """TLS was asked for (any of certificate, key, client CA given, even empty)."""
        return any(v is not None for v in (self.tls_cert, self.tls_key, self.tls_client_ca))

    def validate(self) -> None:
        """Raise ValueError (one line) for settings that cannot be served as asked."""
        host = self.bind.rpartition(":")[0].strip("[]")
        if not is_loopback(host) and not self.token:
            raise ValueError(f"binding {self.bind} (not loopback) needs a bearer token (--token, --token-file or "
                             "UNIFLG_TOKEN)")
        text_chars = 1 if self.max_text_chars is None else self.max_text_chars  # None: the SDK's limits; 0 is bad
        positive = {"max_streams": self.max_streams, "max_text_chars": text_chars,
                    "max_audio_seconds": self.max_audio_seconds, "header_timeout": self.header_timeout,
                    "idle_timeout": self.idle_timeout, "buffer_seconds": self.buffer_seconds}
        bad = {name: value for name, value in positive.items() if not (math.isfinite(value) and value > 0)}
        bad |= {name: value for name, value in (("queue_size", self.queue_size), ("queue_wait", self.queue_wait),
                                                ("grace_seconds", self.grace_seconds))
                if not (math.isfinite(value) and value >= 0)}
        check_seed(self.blink_seed, "blink_seed (--blink-seed)")
        if bad:
            named = ", ".join(f"{_OPTION.get(name, name)} {value}" for name, value in bad.items())
            raise ValueError(f"limits must be finite and positive (--queue, --queue-wait and --grace may be 0); "
                             f"got {named}")
        if self.tls:
            check_tls(self.tls_cert, self.tls_key, self.tls_client_ca)
