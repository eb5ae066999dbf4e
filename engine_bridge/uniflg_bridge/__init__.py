"""Engine bridge: gRPC service, OSC / VMC / Live Link senders and audio playback."""
