"""Preview mp4: 30 fps video with the speech muxed (same duration), side-by-side mode, fast rendering."""

from __future__ import annotations

import re
import subprocess
import time

import numpy as np
import pytest
from uniflg.errors import InvalidInputError
from uniflg.preview import REFERENCE_RGB, ffmpeg_exe, render_preview


def _clip():
    """A corpus item: HTS speech and its generated face track."""
    from uniflg.text.japanese import full_context_labels, labels_to_tokens
    from uniflg_train.corpus.face import make_track
    from uniflg_train.corpus.voice import EMOTIONS, SPEAKERS, render

    labels = full_context_labels("パパとママは山へ行きました。")
    symbols = [t.symbol for t in labels_to_tokens(labels)]
    speech = render(labels, symbols, SPEAKERS[0], EMOTIONS[1])
    lm = make_track(symbols, speech.starts, speech.ends, speech.seconds, "mei", "happy", np.random.default_rng(0))
    return lm, speech.audio


def _stream_seconds(path, stream: str) -> float:
    """Decode one stream to null with the bundled ffmpeg; its last progress time is the stream's duration."""
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(path), "-map", f"0:{stream}", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    h, m, s = re.findall(r"time=(\d+):(\d+):([\d.]+)", proc.stderr)[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def _info(path) -> str:
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(path)], capture_output=True, text=True).stderr


def test_preview_of_a_corpus_item_has_30fps_video_and_matching_audio(tmp_path):
    lm, audio = _clip()
    out = tmp_path / "preview.mp4"
    start = time.perf_counter()
    render_preview(out, lm, audio, 24000, size=512)
    took = time.perf_counter() - start
    info = _info(out)
    assert re.search(r"Video: h264.*512x512.*30 fps", info), info
    assert "Audio: aac" in info and "24000 Hz" in info
    video_s, audio_s = _stream_seconds(out, "v"), _stream_seconds(out, "a")
    assert abs(video_s - lm.shape[0] / 30) < 0.05
    assert abs(video_s - audio_s) < 0.1
    assert took < 5.0 * max(1.0, lm.shape[0] / 150)  # ~1 s for 5 s of frames on a 2-core machine


def test_side_by_side_panels(tmp_path):
    lm, _ = _clip()
    out = render_preview(tmp_path / "sbs.mp4", lm, reference=lm[::-1].copy(), size=128)
    assert re.search(r"256x128.*30 fps", _info(out))
    raw = subprocess.run([ffmpeg_exe(), "-nostdin", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frame = np.frombuffer(raw, np.uint8).reshape(128, 256, 3).astype(int)
    left, right = frame[:, :128], frame[:, 128:]
    white = (left.min(-1) > 150).sum()
    orange = ((np.abs(right - np.array(REFERENCE_RGB)) < 60).all(-1)).sum()
    assert white > 200 and orange > 200
    assert (np.abs(left - np.array(REFERENCE_RGB)) < 40).all(-1).sum() < 20


def test_bad_tracks_are_rejected(tmp_path):
    with pytest.raises(InvalidInputError):
        render_preview(tmp_path / "x.mp4", np.zeros((10, 68, 2)))
    with pytest.raises(InvalidInputError):
        render_preview(tmp_path / "x.mp4", np.full((10, 70, 2), np.nan))


@pytest.mark.parametrize("script", ["sleep 30",  # never reads its input: our pipe write blocks
                                    "cat > /dev/null; sleep 30"],  # reads it all, then never exits
                         ids=["stuck-at-start", "stuck-at-end"])
def test_a_hung_ffmpeg_is_stopped_not_waited_on_forever(tmp_path, monkeypatch, script):
    import uniflg.preview

    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))
    monkeypatch.setattr(uniflg.preview, "STALL_SECONDS", 1.0)
    lm = np.zeros((300, 70, 2), np.float32) + np.linspace(0, 1, 70)[None, :, None]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"^ffmpeg stopped responding \(no progress in 1 s\) and was stopped$"):
        render_preview(tmp_path / "x.mp4", lm, size=64)
    assert time.monotonic() - started < 10
