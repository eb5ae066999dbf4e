"""Inference runtime: ONNX Runtime vs torch parity, the torch reference, streaming, seeds and errors.

Tolerances: landmarks max abs difference <= 1e-3 (normalized units), audio SNR >= 40 dB."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from inference_helpers import make_voice, snr_db, utterance  # noqa: E402
from uniflg.errors import BackendUnavailableError, InvalidInputError, LimitExceededError, NotFoundError  # noqa: E402
from uniflg.types import SynthesisOptions  # noqa: E402
from uniflg.voice import load_voice  # noqa: E402

LANDMARK_TOL = 1e-3
SNR_DB = 40.0


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_voice("tiny", tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def voices(tiny_dir):
    return {b: load_voice(tiny_dir, backend=b) for b in ("torch", "onnxruntime")}


@pytest.mark.parametrize("mode", ["t", "p"])
def test_onnxruntime_matches_torch_text(voices, mode):
    utt, opts = utterance(60, seed=1), SynthesisOptions(seed=11, mode=mode)
    a_t, l_t = voices["torch"].synthesize_all(utt, opts)
    a_o, l_o = voices["onnxruntime"].synthesize_all(utt, opts)
    assert a_t.shape == a_o.shape and l_t.shape == l_o.shape
    assert snr_db(a_t, a_o) >= SNR_DB
    assert np.abs(l_t - l_o).max() <= LANDMARK_TOL
    assert l_t.shape[0] == round(a_t.size / 24000 * 30)


def test_onnxruntime_matches_torch_speech(voices):
    audio = np.random.default_rng(2).standard_normal(3 * 24000).astype(np.float32) * 0.1
    l_t = voices["torch"].animate_array(audio, 24000)
    l_o = voices["onnxruntime"].animate_array(audio, 24000)
    assert l_t.shape == (90, 70, 2)
    assert np.abs(l_t - l_o).max() <= LANDMARK_TOL


def test_runtime_matches_torch_reference_infer_text(voices):
    """The NumPy runtime + split graphs compute UniFLG.infer_text (batch of one) given the same noise."""
    voice = voices["torch"]
    utt, opts = utterance(40, seed=3), SynthesisOptions(seed=5)
    audio, landmarks = voice.synthesize_all(utt, opts)
    plan = voice._plan(utt, opts)
    cfg = voice.config
    rng = np.random.default_rng(5)  # the runtime's draw order: durations, latent, landmarks
    # no emotion named: the voice's default stored latent (its first), never a draw
    z_u = np.asarray(next(iter(next(iter(voice.spec.latents.values())).values())), np.float32).reshape(1, -1)
    dn = (rng.standard_normal((1, 2, 40)) * opts.noise_scale_duration).astype(np.float32)
    ln = rng.standard_normal((1, cfg.vits.inter_channels, plan.frames)).astype(np.float32) \
        * np.float32(opts.noise_scale)
    mn = rng.standard_normal((1, cfg.vits.inter_channels, plan.landmark_frames)).astype(np.float32) \
        * np.float32(opts.landmark_noise_scale)
    model = voice.backend.model
    wav, lm, d = model.infer_text(torch.from_numpy(utt.ids[None]), torch.from_numpy(utt.prosody[None]),
                                  torch.zeros(1, dtype=torch.long), torch.from_numpy(z_u), torch.from_numpy(dn),
                                  torch.from_numpy(ln), torch.from_numpy(mn))
    assert np.array_equal(d[0].numpy().astype(np.int64), plan.d_spec)
    assert snr_db(wav[0, 0].numpy(), audio) >= 60
    assert np.abs(lm[0].numpy() - landmarks).max() <= 1e-5


def test_no_emotion_named_reads_in_the_voices_default_stored_style_whatever_the_seed(voices):
    """z_u is the default stored latent, not an N(0, I) draw per seed: naming the default emotion changes
    nothing, and another seed changes only the noise (the style, e.g. the mouth's baseline, stays)."""
    voice = voices["onnxruntime"]
    utt = utterance(30, seed=2)
    default = next(iter(voice.spec.latents["emotion"]))
    for seed in (0, 7):
        plain = voice.synthesize_all(utt, SynthesisOptions(seed=seed))
        named = voice.synthesize_all(utt, SynthesisOptions(seed=seed, emotion=default))
        assert all(np.array_equal(a, b) for a, b in zip(plain, named, strict=True))
    other = next(e for e in voice.spec.latents["emotion"] if e != default)
    assert not np.array_equal(voice.synthesize_all(utt, SynthesisOptions(emotion=other))[1],
                              voice.synthesize_all(utt, SynthesisOptions())[1])


def test_runtime_matches_torch_reference_infer_speech(voices):
    """At a length where T / n_land is exactly sr / (fps * hop) the runtime equals UniFLG.infer_speech."""
    from uniflg.audio import linear_spectrogram
    from uniflg.conditioning import condition

    voice = voices["torch"]
    audio = np.random.default_rng(4).standard_normal(64000).astype(np.float32) * 0.1  # T = 250, n_land = 80
    ours = voice.animate_array(audio, 24000)
    model_input = condition(audio, 24000, voice.conditioning)  # what the speech path sees (uniflg.conditioning)
    z_u = voice.backend.run("utterance_encoder", {"wav": model_input[None, :24000]})["mu_u"]
    spec = torch.from_numpy(linear_spectrogram(model_input, voice.config.audio))[None]
    ref = voice.backend.model.infer_speech(spec, torch.zeros(1, dtype=torch.long), torch.from_numpy(z_u), 80)
    assert ours.shape == (80, 70, 2)
    assert np.abs(ref[0].numpy() - ours).max() <= 1e-4


def test_text_stream_concatenates_to_whole(voices):
    voice = voices["onnxruntime"]
    utt, opts = utterance(150, seed=6), SynthesisOptions(seed=2, chunk_seconds=0.3)
    audio, landmarks = voice.synthesize_all(utt, opts)
    chunks = list(voice.synthesize(utt, opts))
    assert len(chunks) >= 3 and chunks[-1].is_last and not any(c.is_last for c in chunks[:-1])
    assert np.abs(np.concatenate([c.audio for c in chunks]) - audio).max() <= 1e-5
    assert np.abs(np.concatenate([c.landmarks for c in chunks]) - landmarks).max() <= 1e-5
    assert landmarks.shape[0] == round(audio.size / voice.sample_rate * 30)
    offset = frame = 0
    for c in chunks:  # sample-clock time codes; each frame starts inside its chunk
        assert c.sample_offset == offset and c.first_frame == frame
        assert c.time_code == offset / voice.sample_rate
        for j in range(c.first_frame, c.first_frame + len(c.landmarks)):
            assert c.sample_offset <= j / 30 * voice.sample_rate < c.sample_offset + len(c.audio) or c.is_last
        offset += len(c.audio)
        frame += len(c.landmarks)


def test_pipelined_stream_concatenates_to_whole(voices):
    voice = voices["onnxruntime"]
    utt, opts = utterance(120, seed=7), SynthesisOptions(seed=3, mode="p", chunk_seconds=0.25)
    audio, landmarks = voice.synthesize_all(utt, opts)
    chunks = list(voice.synthesize(utt, opts))
    assert np.abs(np.concatenate([c.audio for c in chunks]) - audio).max() <= 1e-5
    assert np.abs(np.concatenate([c.landmarks for c in chunks]) - landmarks).max() <= 1e-5


@pytest.mark.parametrize("rate", [24000, 16000, 44100])
def test_animate_stream_concatenates_and_bounds_lookahead(voices, rate):
    voice = voices["onnxruntime"]
    audio = np.random.default_rng(8).standard_normal(int(4.3 * rate)).astype(np.float32) * 0.1
    whole = voice.animate_array(audio, rate)
    assert whole.shape[0] == round(4.3 * 30)
    sizes = np.random.default_rng(9).integers(100, 3000, 400)
    pieces = np.split(audio, np.cumsum(sizes)[np.cumsum(sizes) < audio.size])
    streamed = np.concatenate([c.landmarks for c in voice.animate(iter(pieces), rate)])
    assert np.abs(streamed - whole).max() <= 1e-5
    with pytest.raises(InvalidInputError):  # an empty stream is too short to animate
        list(voice.animate(iter(()), rate))


def test_animate_lookahead_is_bounded(voices):
    """Frames come out while audio is still arriving; the lag never exceeds the documented look-ahead plus the
    block size and one chunk."""
    voice = voices["onnxruntime"]
    rate, piece = 24000, 480  # 20 ms pieces
    audio = np.random.default_rng(10).standard_normal(5 * rate).astype(np.float32) * 0.1
    sent = [0]

    def feed():
        for i in range(0, audio.size, piece):
            sent[0] = min(audio.size, i + piece)
            yield audio[i:i + piece]

    worst = 0.0
    for chunk in voice.animate(feed(), rate):
        if chunk.is_last:
            break
        end_time = (chunk.first_frame + len(chunk.landmarks)) / 30
        worst = max(worst, sent[0] / rate - end_time)
    bound = voice.lookahead_seconds + 6 / 30 + piece / rate + 1 / 30
    assert 0 < worst <= bound, (worst, bound)


def test_same_seed_same_output_and_seeds_differ(voices):
    voice, utt = voices["onnxruntime"], utterance(30, seed=12)
    a1, l1 = voice.synthesize_all(utt, SynthesisOptions(seed=4))
    a2, l2 = voice.synthesize_all(utt, SynthesisOptions(seed=4))
    a3, _ = voice.synthesize_all(utt, SynthesisOptions(seed=5))
    assert np.array_equal(a1, a2) and np.array_equal(l1, l2)
    assert a1.shape != a3.shape or not np.allclose(a1, a3)


def test_named_emotion_and_reference_audio_set_z_u(voices):
    voice, utt = voices["onnxruntime"], utterance(30, seed=13)
    happy = voice.synthesize_all(utt, SynthesisOptions(seed=4, emotion="happy"))[1]
    sad = voice.synthesize_all(utt, SynthesisOptions(seed=4, emotion="sad"))[1]
    assert not np.allclose(happy, sad)
    ref = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    out = voice.synthesize_all(utt, SynthesisOptions(seed=4, reference_audio=ref, reference_sample_rate=16000))
    assert out[1].shape[1:] == (70, 2)


def test_bad_inputs_raise_precise_errors(voices, tiny_dir):
    voice, utt = voices["onnxruntime"], utterance(10)
    with pytest.raises(NotFoundError) as err:
        voice.synthesize(utt, SynthesisOptions(speaker="nobody"))
    assert err.value.choices == voice.speakers and "speaker0" in str(err.value)
    with pytest.raises(NotFoundError):
        voice.synthesize(utt, SynthesisOptions(emotion="angry"))
    with pytest.raises(InvalidInputError):
        voice.synthesize(utt, SynthesisOptions(mode="x"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        voice.synthesize(utt, SynthesisOptions(speed=0))
    with pytest.raises(InvalidInputError):
        voice.synthesize("   ")
    with pytest.raises(LimitExceededError):
        voice.synthesize(utterance(5000))
    with pytest.raises(InvalidInputError):
        voice.synthesize(utt, SynthesisOptions(reference_audio=np.zeros(100, np.float32)))
    with pytest.raises(InvalidInputError):
        voice.animate([np.zeros(100, np.float32)], 0)
    with pytest.raises(InvalidInputError):
        list(voice.animate([np.full(5000, np.nan, np.float32)], 24000))
    with pytest.raises(InvalidInputError):
        voice.animate_array(np.zeros(100, np.float32), 24000)
    with pytest.raises(NotFoundError):
        load_voice(tiny_dir, backend="cuda")
    # wrong types and ranges name what is accepted instead of surfacing numpy's or ONNX Runtime's errors
    for seed in (-1, 1.5, True, 2**64):
        with pytest.raises(InvalidInputError, match=r"seed must be a whole number from 0 to 2\*\*64-1"):
            voice.synthesize(utt, SynthesisOptions(seed=seed))  # type: ignore[arg-type]
    for text in (None, 123, b"abc"):
        with pytest.raises(InvalidInputError, match="text must be a str, a Passage or an encoded utterance"):
            voice.synthesize_all(text)  # type: ignore[arg-type]
    for threads in (-1, 0, 1000000, "2", True):
        with pytest.raises(InvalidInputError, match="threads must be a whole number from 1 to 1024"):
            load_voice(tiny_dir, threads=threads)  # type: ignore[arg-type]


def test_backend_unavailable_is_explained(tmp_path, tiny_dir):
    import shutil

    from uniflg.errors import ModelFormatError

    onnx_only = tmp_path / "onnx_only"
    shutil.copytree(tiny_dir, onnx_only)
    (onnx_only / "model.safetensors").unlink()
    text = (onnx_only / "voice.json").read_text().replace('"weights": "model.safetensors"', '"weights": null')
    (onnx_only / "voice.json").write_text(text)
    with pytest.raises(BackendUnavailableError, match="model.safetensors"):
        load_voice(onnx_only, backend="torch")
    assert load_voice(onnx_only, backend="auto").backend.name == "onnxruntime"
    with pytest.raises(ModelFormatError):
        load_voice(tmp_path, backend="auto")


def test_torch_refuses_the_options_it_cannot_honour(tiny_dir):
    from uniflg.backends import BackendOptions

    for options, given in ((BackendOptions(precision="fp16"), "--precision fp16"),
                           (BackendOptions(providers=("CPUExecutionProvider",)), "--ort-providers")):
        with pytest.raises(InvalidInputError, match=f"^{given} applies to the onnxruntime and tensorrt backends"):
            load_voice(tiny_dir, backend="torch", options=options)  # it ran fp32 / ignored them without a word
    assert load_voice(tiny_dir, backend="torch", options=BackendOptions(precision="fp32")).backend.name == "torch"


def test_stream_info(voices):
    info = voices["torch"].stream_info()
    assert (info.sample_rate, info.fps, info.n_points, info.layout) == (24000, 30, 70, "openpose70")
