"""Drive an NPC's face from a game script: synthesize a line and consume chunks as they arrive.

Each chunk carries its audio (float32, to queue on the audio device) and the landmark frames whose start
times fall inside that audio (to apply to the face rig), with time codes from the sample clock.

    python examples/speak.py "こんにちは、旅の人。" [--voice DIR] [--backend auto] [--emotion happy]

Bad input (an unknown emotion, a broken voice folder, empty text, bad arguments) ends with one line on stderr
and exit status 2; the options are checked against the voice's voice.json before the model loads.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from uniflg.cli import Parser, description, end_quietly_when_reader_goes  # one-line usage errors, as the uniflg command
from uniflg.errors import UniFLGError
from uniflg.text import split_text
from uniflg.types import SynthesisOptions
from uniflg.voice import Voice, check_request, load_voice, read_voice_spec


class NpcFace:
    """Stand-in for a game engine's face rig: it just reports the mouth opening per frame."""

    def apply(self, frame_index: int, time_code: float, points: np.ndarray) -> None:
        mouth = float(np.linalg.norm(points[66] - points[62]))  # inner lip: bottom centre - top centre
        print(f"  frame {frame_index:4d} t={time_code:6.3f}s mouth={mouth:.4f}")


def main() -> int:
    parser = Parser(description=description(__doc__))
    parser.add_argument("text")
    parser.add_argument("--voice", help="voice folder (default: the embedded voice)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--emotion")
    args = parser.parse_args()
    end_quietly_when_reader_goes()  # the printout is the result (`| head`)
    options = SynthesisOptions(emotion=args.emotion, seed=7)
    try:
        check_request(read_voice_spec(args.voice), options)  # names and limits, before the model loads
        split_text(args.text)  # empty, unreadable or too long text, also before the model loads
        voice = load_voice(args.voice, backend=args.backend)
        run(voice, args.text, options)
    except UniFLGError as exc:  # the SDK's errors name what was wrong and what is accepted
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def run(voice: Voice, text: str, options: SynthesisOptions) -> None:
    info = voice.stream_info()
    face = NpcFace()
    start = time.perf_counter()
    for chunk in voice.synthesize(text, options):
        latency = (time.perf_counter() - start) * 1000
        print(f"chunk {chunk.index}: {len(chunk.audio) / info.sample_rate:.2f} s of audio at "
              f"t={chunk.time_code:.3f}s, {len(chunk.landmarks)} frames (ready after {latency:.0f} ms)")
        # engine.audio.queue(chunk.audio)  # play it; the frames below are synchronized to it
        for i, points in enumerate(chunk.landmarks):
            frame = chunk.first_frame + i
            face.apply(frame, frame / info.fps, points)


if __name__ == "__main__":
    sys.exit(main())
