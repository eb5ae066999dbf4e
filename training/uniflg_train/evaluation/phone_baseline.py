"""A recognizer-driven lip baseline for ``uniflg eval real-av --phone-baseline``.

What game lip-sync tools do without a learned face model: Rhubarb Lip Sync (D. Wolf) recognizes phones with
pocketsphinx and maps each to one of Preston Blair's mouth shapes. Here pocketsphinx's bundled US-English acoustic
model runs in all-phone mode (a phone n-gram, no words; speaker-independent), each timed phone gets the opening of
its mouth shape, and the track is held per phone at 30 fps, moved :data:`VISUAL_LEAD` earlier (the lead the
training faces use: visible articulation precedes the sound) and smoothed over 5 frames.

It gives a lip-opening track only, no face, scored with the same Pearson r at lag 0 as a voice: a stronger
reference than the energy meter for how far a speaker-independent recognizer gets on real people. The openings
are the shapes' rank order (closed to wide open) on a 0-1 scale, not measured values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uniflg_train.corpus.face import VISUAL_LEAD
from uniflg_train.evaluation.lips import FPS
from uniflg_train.evaluation.speech_quality import decode

# Preston Blair's shapes as Rhubarb Lip Sync names them, with an opening rank (0 closed .. 1 wide open).
SHAPE_OPENING = {
    "A": 0.0,   # closed: P, B, M
    "B": 0.25,  # slightly open, teeth together: most consonants, EE
    "C": 0.6,   # open: EH, AE
    "D": 1.0,   # wide open: AA
    "E": 0.5,   # slightly rounded: AO, ER
    "F": 0.3,   # puckered: UW, OW, W
    "G": 0.1,   # upper teeth on the lower lip: F, V
    "H": 0.4,   # tongue raised: L
    "X": 0.0,   # idle, silence
}
# pocketsphinx's US-English phones (CMUdict set) -> shape; fillers and silence are X.
PHONE_SHAPE = {
    **dict.fromkeys(("P", "B", "M"), "A"),
    **dict.fromkeys(("IH", "IY", "CH", "D", "DH", "G", "HH", "JH", "K", "N", "NG", "R", "S", "SH", "T", "TH", "Y",
                     "Z", "ZH"), "B"),
    **dict.fromkeys(("AE", "AH", "EH", "EY"), "C"),
    **dict.fromkeys(("AA", "AW", "AY"), "D"),
    **dict.fromkeys(("AO", "ER", "OY"), "E"),
    **dict.fromkeys(("OW", "UH", "UW", "W"), "F"),
    **dict.fromkeys(("F", "V"), "G"),
    "L": "H",
}
FRAMES_PER_SECOND = 100  # pocketsphinx's feature rate
SMOOTH = 5  # frames at 30 fps


class PhoneRecognizer:
    """pocketsphinx all-phone decoding with its bundled US-English model; each clip decoded from the same state.
    The front end dithers (seeded): digital silence would otherwise be read as phones (an open mouth)."""

    def __init__(self) -> None:
        import pocketsphinx
        from pocketsphinx import Decoder

        model = Path(pocketsphinx.__file__).parent / "model" / "en-us"
        self.decoder = Decoder(hmm=str(model / "en-us"), allphone=str(model / "en-us-phone.lm.bin"),
                               samprate=16000, lw=2.0, beam=1e-20, pbeam=1e-20, dither=True, seed=1,
                               loglevel="FATAL")

    def phones(self, audio: np.ndarray, sample_rate: int) -> list[tuple[str, float, float]]:
        """``[(phone, start s, end s)]`` of mono ``audio``; fillers and silence included (``SIL``, ``+NSN+`` ...)."""
        decode(self.decoder, audio, sample_rate)
        return [(s.word, s.start_frame / FRAMES_PER_SECOND, (s.end_frame + 1) / FRAMES_PER_SECOND)
                for s in self.decoder.seg()]

    def opening(self, audio: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
        """``[n_frames]`` lip-opening track at 30 fps (0 closed .. 1 wide open; module docstring)."""
        times = np.arange(n_frames) / FPS + VISUAL_LEAD
        track = np.zeros(n_frames)
        for phone, start, end in self.phones(audio, sample_rate):
            track[(times >= start) & (times < end)] = SHAPE_OPENING[PHONE_SHAPE.get(phone, "X")]
        padded = np.pad(track, (SMOOTH // 2, SMOOTH - 1 - SMOOTH // 2), mode="edge")
        return np.convolve(padded, np.ones(SMOOTH) / SMOOTH, mode="valid")
