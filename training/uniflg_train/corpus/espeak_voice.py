"""English speech with exact phoneme timing from libespeak-ng (the ``espeakng-loader`` wheel), via ctypes.

``synthesize`` returns 22,050 Hz audio and the phoneme events espeak-ng reports while it synthesizes (its
own phoneme mnemonics, each with its start in the audio), so English items can carry procedural faces that
are aligned by construction, with no aligner. Voices are espeak-ng's variants (``en-us``, ``en+m3`` ...).

libespeak-ng is one global state per process, shared with the text front end's English G2P: this module
uses the library :mod:`uniflg.text.espeak` loaded (the wheel's) and its lock, and every call re-initializes it
with phoneme events on and sets its own callback (G2P only re-selects its voice, so it is unaffected). The
library also carries state from one utterance to the next (its pitch flutter), so results are deterministic
for the same sequence of calls in a process (a corpus worker that speaks its items in a fixed order), not call
by call. Nothing depends on system packages.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
from uniflg.errors import InvalidInputError

from uniflg_train.corpus.english import VOICES

SAMPLE_RATE = 22050
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS
_PHONEME_EVENTS = 0x0001  # espeakINITIALIZE_PHONEME_EVENTS
_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: return an error instead of exit() on a bad data path
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
_EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 1, 5, 7


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT (speak_lib.h)
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class PhonemeEvent:
    phoneme: str  # espeak-ng mnemonic (e.g. "h", "@", "oU", "_:" for a pause)
    start: float  # seconds from the start of the audio


@dataclass(frozen=True)
class EspeakSpeech:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    sample_rate: int
    phonemes: tuple[PhonemeEvent, ...]
    voice: str


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader
        from uniflg.text.espeak import library

        shared = library()  # the text front end's loaded library and its process-wide lock
        if shared is None or shared.path != espeakng_loader.get_library_path():
            raise RuntimeError("espeak-ng synthesis needs the espeakng-loader wheel's libespeak-ng "
                               "(pip install espeakng-loader; UNIFLG_ESPEAK=system is not supported here)")
        self.lib, self.lock = shared.lib, shared.lock
        self.data = espeakng_loader.get_data_path().encode()
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                          ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        self._chunks: list[np.ndarray] = []
        self._events: list[PhonemeEvent] = []
        self._callback = _CALLBACK(self._on_audio)  # kept alive as long as the engine

    def _on_audio(self, wav, n: int, events) -> int:  # noqa: ANN001 (ctypes pointers)
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.float32) / 32768.0)
        i = 0
        while events[i].type != 0:  # LIST_TERMINATED
            e = events[i]
            if e.type == _EVENT_PHONEME:
                name = bytes(e.id.string).split(b"\0")[0].decode("utf-8", "replace")
                self._events.append(PhonemeEvent(name, e.audio_position / 1000.0))
            i += 1
        return 0

    def _select(self, voice: str) -> None:
        """Initialise espeak-ng and choose ``voice``; the caller holds the lock."""
        if self.lib.espeak_Initialize(_SYNCHRONOUS, 0, self.data, _PHONEME_EVENTS | _DONT_EXIT) <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self.lib.espeak_SetSynthCallback(self._callback)
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise InvalidInputError(f"espeak-ng has no voice {voice!r}; give a name or name+variant such as "
                                    f"{', '.join(VOICES[:3])} (list them: espeak-ng --voices)")

    def check(self, voice: str) -> None:
        with self.lock:
            self._select(voice)

    def synthesize(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> EspeakSpeech:
        with self.lock:
            self._select(voice)
            for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            self._chunks, self._events = [], []
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            if self.lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None) != 0:
                raise RuntimeError(f"espeak_Synth failed on {text[:40]!r}")
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
            return EspeakSpeech(audio, SAMPLE_RATE, tuple(self._events), voice)


_engine: _Engine | None = None


def _the_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def check_voice(voice: str) -> None:
    """Raise InvalidInputError unless espeak-ng has ``voice`` (name or name+variant); synthesizes nothing."""
    _the_engine().check(voice)


def synthesize(text: str, voice: str = "en-us", rate: int = 165, pitch: int = 50,
               pitch_range: int = 50) -> EspeakSpeech:
    """Speak ``text`` with an espeak-ng voice (name or name+variant); ``rate`` in words per minute,
    ``pitch``/``pitch_range`` 0-100. Raises InvalidInputError (a ValueError) for an unknown voice."""
    return _the_engine().synthesize(text, voice, rate, pitch, pitch_range)
