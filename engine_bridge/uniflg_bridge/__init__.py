"""Engine bridge: gRPC service, OSC / VMC / Live Link senders and audio playback."""

import os

# gRPC core (absl logging) prints each failed TLS handshake and other INFO lines on stderr unless told otherwise;
# the bridge's tools and server say what went wrong in one line. Set GRPC_VERBOSITY yourself to see them. It takes
# effect only when this package is imported before grpc.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
