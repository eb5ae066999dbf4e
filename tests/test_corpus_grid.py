"""`uniflg corpus grid`: GRID's real talker moved onto the paired face (training/uniflg_train/corpus/grid.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np
import pytest
from uniflg.errors import InvalidInputError
from uniflg_train.corpus.face import speaker_face
from uniflg_train.corpus.grid import (
    MANIFEST,
    align_track,
    build_grid_corpus,
    parse_alignment,
    read_manifest,
    silence_frames,
    similarity_fit,
    transfer,
)

ALIGN = "0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 35500 at\n35500 41000 f\n41000 47250 two\n" \
        "47250 53000 now\n53000 74500 sil\n"


def test_alignment_gives_the_words_with_letters_spelled_and_the_silences_in_seconds():
    text, silences = parse_alignment(ALIGN)
    assert text == "bin blue at F two now"
    assert silences == [(0.0, 0.95), (2.12, 2.98)]
    with pytest.raises(InvalidInputError, match="no word"):
        parse_alignment("0 1000 sil\n1000 2000 sp\n")


def _moved(points: np.ndarray, scale: float, angle: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, -s], [s, c]]).T + np.array(shift)


def test_similarity_fit_recovers_a_known_pose_and_align_track_undoes_it():
    face = speaker_face("mei")
    scale, rot, t = similarity_fit(_moved(face, 1.7, 0.3, (0.2, -0.1)), face)
    assert scale == pytest.approx(1 / 1.7, rel=1e-9)
    assert np.arctan2(rot[1, 0], rot[0, 0]) == pytest.approx(-0.3, abs=1e-9)
    # a talking frame: the mouth opens (lower lip and jaw down) and the head is turned, scaled and moved
    talking = face.copy()
    talking[[8, 56, 57, 58, 65, 66, 67], 1] += 0.05
    track = np.stack([_moved(face, 2.0, -0.2, (1.0, 3.0)), _moved(talking, 0.5, 0.1, (-2.0, 0.5))])
    aligned = align_track(track, face)
    assert np.abs(aligned[0] - face).max() < 1e-9
    assert np.abs(aligned[1] - talking).max() < 1e-9  # the fit reads only points speech does not move


def test_transfer_puts_the_talkers_motion_on_the_paired_face():
    mei, other = speaker_face("mei"), speaker_face("somebody else")
    opening = np.zeros_like(other)
    opening[[62, 66], 1] = (-0.02, 0.03)
    moved = transfer(np.stack([other, other + opening]), other, mei)
    assert moved.dtype == np.float32 and moved.shape == (2, 70, 2)
    assert np.abs(moved[0] - mei).max() < 1e-6
    assert np.abs(moved[1] - (mei + opening)).max() < 1e-6


def test_rest_frames_keep_clear_of_the_silence_edges():
    frames = silence_frames([(0.0, 0.5), (2.0, 3.0)], 90, 30.0)
    times = frames / 30.0
    assert times.min() == pytest.approx(0.1) and times.max() <= 2.9 + 1e-9
    assert not ((times > 0.4) & (times < 2.1)).any()


def test_the_manifest_pins_the_talkers_thousand_videos_and_names_licence_and_source():
    meta, clips = read_manifest(MANIFEST)
    assert len(clips) == 1000 and len({c.name for c in clips}) == 1000
    assert all(len(c.video) == 64 and len(c.align) == 64 for c in clips)
    assert "CC BY 4.0" in meta["licence"] and "Cooke" in meta["citation"] and len(meta["commit"]) == 40


# ---- the build, from a small git repository laid out like the pinned one (needs `make video-env`) -----------------
@pytest.fixture(scope="module")
def grid_repo(tmp_path_factory, astronaut):
    """A git repository with two 'videos' (a still face photo with a tone, 25 fps, MPEG-1 like GRID's) and a
    broken one, and a manifest pinning them."""
    from uniflg.ffmpeg import ffmpeg_exe

    root = tmp_path_factory.mktemp("grid")
    repo = root / "repo"
    (repo / "data/s1").mkdir(parents=True)
    (repo / "data/alignments/s1").mkdir(parents=True)
    photo = astronaut
    for name in ("bbaf2n", "bbaf3s"):
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-loop", "1", "-i", str(photo), "-f", "lavfi",
                        "-i", "sine=frequency=220:sample_rate=44100", "-t", "3", "-r", "25", "-c:v", "mpeg1video",
                        "-c:a", "mp2", "-f", "mpeg", str(repo / f"data/s1/{name}.mpg")], check=True)
        (repo / f"data/alignments/s1/{name}.align").write_text(ALIGN)
    (repo / "data/s1/broken.mpg").write_bytes(b"not a video")
    (repo / "data/alignments/s1/broken.align").write_text(ALIGN)
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "clips"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

    def digest(path):
        return hashlib.sha256((repo / path).read_bytes()).hexdigest()

    meta, _ = read_manifest(MANIFEST)
    meta.update(commit=commit, repository="https://example.org/grid-copy",
                clips=[{"name": n, "video": digest(f"data/s1/{n}.mpg"),
                        "align": digest(f"data/alignments/s1/{n}.align")} for n in ("bbaf2n", "bbaf3s", "broken")])
    manifest = root / "grid.json"
    manifest.write_text(json.dumps(meta))
    return repo, manifest


def test_build_writes_a_paired_english_corpus_leaves_out_a_broken_video_and_resumes(grid_repo, tmp_path):
    repo, manifest = grid_repo
    out = tmp_path / "grid"
    meta = build_grid_corpus(repo, out, manifest=manifest)
    assert meta["utterances"] == 2 and list(meta["left_out"]) == ["broken"]
    assert meta["speakers"] == ["grid_s1"] and meta["languages"] == {"en": 2} and meta["sources"] == {"grid": 2}
    rows = [json.loads(line) for split in ("train", "val", "test") for line in (out / f"{split}.jsonl").open()]
    assert sorted(r["id"] for r in rows) == ["grid_s1_bbaf2n", "grid_s1_bbaf3s"]
    # splits follow the manifest's order, not which videos were read: the first (by name) is validation
    assert [json.loads(line)["id"] for line in (out / "val.jsonl").open()] == ["grid_s1_bbaf2n"]
    assert "data/s1/broken.mpg" in meta["left_out"]["broken"] and "licence_url" in meta["credits"]["grid"]
    assert {r["text"] for r in rows} == {"bin blue at F two now"}
    import soundfile as sf

    audio, rate = sf.read(out / rows[0]["audio"])
    assert rate == 24000 and audio.ndim == 1 and audio.size == pytest.approx(3 * 24000, rel=0.02)
    track = np.load(out / rows[0]["landmarks"])
    assert track.shape == (round(audio.size / 24000 * 30), 70, 2)
    # a still face is its own rest face: every frame is the paired face, up to MediaPipe's jitter on compressed
    # frames (about 0.001 of the face's height on average, 0.02 at worst), the mouth shut as the face's
    mei = speaker_face("mei")
    assert np.abs(track - mei[None]).mean() < 3e-3
    assert np.abs((track[:, 66, 1] - track[:, 62, 1]) - (mei[66, 1] - mei[62, 1])).max() < 0.01
    # a rerun reads nothing again (the aligned tracks are kept) and gives the same corpus
    stamp = (out / ".tracks/bbaf2n.npy").stat().st_mtime_ns
    assert build_grid_corpus(repo, out, manifest=manifest)["utterances"] == 2
    assert (out / ".tracks/bbaf2n.npy").stat().st_mtime_ns == stamp
    # a finished corpus rebuilds without the video environment (the broken video is not tried again), and another
    # face is only a new drawing of the same tracks
    import os

    os.environ["UNIFLG_VIDEO_PYTHON"] = "/nonexistent/python"
    try:
        meta = build_grid_corpus(repo, out, face="low", manifest=manifest)
    finally:
        del os.environ["UNIFLG_VIDEO_PYTHON"]
    assert meta["face"] == "low" and meta["utterances"] == 2 and list(meta["left_out"]) == ["broken"]
    # the evaluation leaves out what a run trained on the speech path only
    from uniflg_train.evaluation.runner import EvalInputError, load_items

    assert [i.utt_id for i in load_items(out, "val")] == ["grid_s1_bbaf2n"]
    with pytest.raises(EvalInputError, match="speech-only"):
        load_items(out, "val", leave_out_speakers=("grid_s1",))


def test_build_stops_when_no_video_can_be_read_and_names_the_file(grid_repo, tmp_path, monkeypatch):
    repo, manifest = grid_repo
    monkeypatch.setenv("UNIFLG_VIDEO_PYTHON", "/bin/false")  # a video environment that fails on everything
    with pytest.raises(InvalidInputError, match=r"none of the 2 videos .*data/s1/bbaf2n.mpg.*make video-env"):
        build_grid_corpus(repo, tmp_path / "out", limit=2, manifest=manifest)
    monkeypatch.setenv("UNIFLG_VIDEO_PYTHON", str(tmp_path / "nowhere/python"))
    with pytest.raises(InvalidInputError, match="UNIFLG_VIDEO_PYTHON=.* is not a file"):
        build_grid_corpus(repo, tmp_path / "out2", limit=2, manifest=manifest)


def test_build_refuses_bad_places_faces_and_files_before_writing_anything(grid_repo, tmp_path):
    repo, manifest = grid_repo
    with pytest.raises(InvalidInputError, match="inside the source"):
        build_grid_corpus(repo, repo / "out", manifest=manifest)
    with pytest.raises(InvalidInputError, match="around the source"):
        build_grid_corpus(repo, repo.parent, manifest=manifest)
    with pytest.raises(InvalidInputError, match="not found"):
        build_grid_corpus(tmp_path / "nowhere", tmp_path / "out", manifest=manifest)
    with pytest.raises(InvalidInputError, match=r"--face 'Mei' is not one of the corpus's faces \(mei, low"):
        build_grid_corpus(repo, tmp_path / "out", face="Mei", manifest=manifest)
    other = tmp_path / "other"
    other.mkdir()
    (other / "corpus.json").write_text(json.dumps({"generator": "uniflg corpus make"}))
    with pytest.raises(InvalidInputError, match="holds another corpus"):
        build_grid_corpus(repo, other, manifest=manifest)
    # a plain copy with one file changed: named, with both digests
    copy = tmp_path / "copy"
    for rel in ("data/s1/bbaf2n.mpg", "data/alignments/s1/bbaf2n.align"):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((repo / rel).read_bytes())
    (copy / "data/s1/bbaf2n.mpg").write_bytes(b"changed")
    with pytest.raises(InvalidInputError, match=r"bbaf2n.mpg has sha256 \w+\.\.\., not the pinned"):
        build_grid_corpus(copy, tmp_path / "out", limit=1, manifest=manifest)
    assert not (tmp_path / "out").exists()


def test_corpus_faces_are_the_hts_voices_speakers():
    from uniflg_train.corpus.sources import CORPUS_FACES
    from uniflg_train.corpus.voice import SPEAKERS

    assert tuple(s.name for s in SPEAKERS) == CORPUS_FACES
