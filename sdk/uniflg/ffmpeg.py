"""Where the ffmpeg executable is: the one imageio-ffmpeg ships (a runtime dependency), so previews, MP3 decoding
and the video tools need nothing on PATH."""

from __future__ import annotations

from uniflg.errors import BackendUnavailableError


def ffmpeg_exe() -> str:
    """The path of the ffmpeg executable. Raises BackendUnavailableError when imageio-ffmpeg or its binary for this
    platform is missing."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # noqa: BLE001 - any failure means "no ffmpeg here"
        raise BackendUnavailableError(f"this needs ffmpeg (pip install imageio-ffmpeg): {exc}") from exc
