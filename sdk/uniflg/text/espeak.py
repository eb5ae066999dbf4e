"""libespeak-ng text-to-phonemes, found without system packages.

Where the library comes from, in order:

1. the ``espeakng-loader`` wheel (a runtime dependency): it ships ``libespeak-ng`` 1.52 and ``espeak-ng-data``,
   so English works after ``pip install`` alone;
2. the system library (Debian ``libespeak-ng1``), with its own data;
3. the ``espeak-ng`` command-line program.

``UNIFLG_ESPEAK=system`` skips the wheel (to compare readings with a system build).

libespeak-ng keeps one global translator whose state a call can change (a text in letters of another
script switches the translator's language, a rejected text can leave it mid-word), so every call
re-selects the voice under one process-wide lock: the same text always gives the same phonemes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import subprocess
import threading

from uniflg.errors import BackendUnavailableError

log = logging.getLogger(__name__)

VOICE = "en-us"
SEPARATOR = "_"  # between the phonemes of a word
_IPA = 0x02  # espeakPHONEMES_IPA
_UTF8 = 1  # espeakCHARS_UTF8
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: no audio device is opened


class _Library:
    """One loaded libespeak-ng (ctypes); the library is global state, hence the lock."""

    def __init__(self, path: str, data: str | None) -> None:
        self.path = path
        self.lib = ctypes.CDLL(path)
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        if self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data.encode() if data else None, 0) < 0:
            raise OSError(f"espeak_Initialize failed ({path}, data {data})")
        self._select_voice()
        self.lock = threading.Lock()

    def _select_voice(self) -> None:
        if self.lib.espeak_SetVoiceByName(VOICE.encode()) != 0:
            raise OSError(f"espeak-ng at {self.path} has no voice {VOICE!r}")

    def phonemes(self, text: str) -> str:
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        mode = _IPA | (ord(SEPARATOR) << 8)  # bits 8-23: the separator between phonemes
        out: list[str] = []
        with self.lock:
            self._select_voice()  # a fresh translator for every call (see the module docstring)
            while ptr.value:
                res = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _UTF8, mode)
                if res:
                    out.append(res.decode("utf-8"))
        return " ".join(out)


# Where system packages put espeak-ng-data (Debian/Ubuntu multiarch, Fedora/Arch, source builds, Homebrew).
_SYSTEM_DATA = ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                "/usr/share/espeak-ng-data", "/usr/lib/espeak-ng-data", "/usr/local/share/espeak-ng-data",
                "/opt/homebrew/share/espeak-ng-data")


def _has_data(path: str) -> bool:
    """espeak-ng takes the data folder itself or the folder that holds ``espeak-ng-data``."""
    return any(os.path.isfile(os.path.join(path, *sub, "phontab")) for sub in ((), ("espeak-ng-data",)))


def _checked_data(path: str) -> str:
    """espeak_Initialize ends the process (exit 1) when its data is missing: check before calling it."""
    if not _has_data(path):
        raise OSError(f"no espeak-ng data (phontab) in {path}")
    return path


def _wheel_library() -> _Library:
    import espeakng_loader

    return _Library(espeakng_loader.get_library_path(), _checked_data(espeakng_loader.get_data_path()))


def _system_library() -> _Library:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    candidates = [p for p in (os.environ.get("ESPEAK_DATA_PATH"), *_SYSTEM_DATA) if p]
    data = next((p for p in candidates if _has_data(p)), None)
    if data is None:
        raise OSError(f"no espeak-ng data in {', '.join(candidates)}")
    return _Library(name, data)


_library: _Library | None = None
_tried = False
_load_lock = threading.Lock()


def library() -> _Library | None:
    """The loaded libespeak-ng (wheel first, then the system's), or None when neither loads."""
    global _library, _tried
    with _load_lock:
        if not _tried:
            _tried = True
            loaders = [_system_library] if os.environ.get("UNIFLG_ESPEAK") == "system" else [
                _wheel_library, _system_library]
            for load in loaders:
                try:
                    _library = load()
                    log.debug("libespeak-ng: %s", _library.path)
                    break
                except (ImportError, OSError, RuntimeError) as exc:
                    log.debug("libespeak-ng via %s unavailable: %s", load.__name__, exc)
        return _library


def available() -> bool:
    """True when English phonemes can be made here (a library or the command-line program)."""
    return library() is not None or shutil.which("espeak-ng") is not None


def describe() -> str:
    lib = library()
    if lib is not None:
        return f"libespeak-ng {lib.path}"
    return f"espeak-ng program {shutil.which('espeak-ng')}" if shutil.which("espeak-ng") else "none"


def phonemes(text: str) -> str:
    """``text`` -> espeak-ng IPA (voice ``en-us``): words separated by spaces, phonemes by ``_``.

    Raises :class:`BackendUnavailableError` when no espeak-ng is found (reinstall ``espeakng-loader``)."""
    lib = library()
    if lib is not None:
        return lib.phonemes(text)
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise BackendUnavailableError("English needs libespeak-ng: pip install espeakng-loader "
                                      "(or the system package espeak-ng)")
    res = subprocess.run([exe, "-q", "--ipa", f"--sep={SEPARATOR}", "-v", VOICE, text], capture_output=True,
                         text=True, check=True, timeout=60)
    return " ".join(res.stdout.split())
