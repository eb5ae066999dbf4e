"""Drive an NPC's face from a game script: synthesize a line and consume chunks as they arrive.

Each chunk carries its audio (float32, to queue on the audio device) and the landmark frames whose start
times fall inside that audio (to apply to the face rig), with time codes from the sample clock.

    python examples/speak.py "こんにちは、旅の人。" [--voice DIR] [--backend auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from uniflg.types import SynthesisOptions
from uniflg.voice import load_voice


class NpcFace:
    """Stand-in for a game engine's face rig: it just reports the mouth opening per frame."""

    def apply(self, frame_index: int, time_code: float, points: np.ndarray) -> None:
        mouth = float(np.linalg.norm(points[66] - points[62]))  # inner lip: bottom centre - top centre
        print(f"  frame {frame_index:4d} t={time_code:6.3f}s mouth={mouth:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--voice", help="voice folder (default: the embedded voice)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--emotion")
    args = parser.parse_args()

    voice = load_voice(args.voice, backend=args.backend)
    info = voice.stream_info()
    face = NpcFace()
    start = time.perf_counter()
    for chunk in voice.synthesize(args.text, SynthesisOptions(emotion=args.emotion, seed=7)):
        latency = (time.perf_counter() - start) * 1000
        print(f"chunk {chunk.index}: {len(chunk.audio) / info.sample_rate:.2f} s of audio at "
              f"t={chunk.time_code:.3f}s, {len(chunk.landmarks)} frames (ready after {latency:.0f} ms)")
        # engine.audio.queue(chunk.audio)  # play it; the frames below are synchronized to it
        for i, points in enumerate(chunk.landmarks):
            frame = chunk.first_frame + i
            face.apply(frame, frame / info.fps, points)


if __name__ == "__main__":
    main()
