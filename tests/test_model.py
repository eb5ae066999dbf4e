"""Model-level tests: shapes of every module and both paths, invertibility, MAS optimality, frame
counts, checkpoint round trip, the UniFLG-AS conditioning and the paper's landmark decoder size."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from uniflg.config import ModelConfig, VariantConfig, named_config, paper_config, small_config, tiny_config
from uniflg.errors import ModelFormatError
from uniflg.model.alignment import maximum_path_numpy
from uniflg.model.decoders import ConvISTFT, build_decoder
from uniflg.model.discriminators import MultiPeriodScaleDiscriminator
from uniflg.model.duration import StochasticDurationPredictor
from uniflg.model.io import load_model, read_config, save_model
from uniflg.model.splines import rational_quadratic_spline
from uniflg.model.system import UniFLG
from uniflg.timing import landmark_durations, landmark_frames

torch.manual_seed(0)


def _batch(cfg: ModelConfig, B: int = 2, N: int = 9, T: int = 48):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, cfg.text.n_symbols, (B, N), generator=g)
    prosody = torch.stack([torch.randint(0, c, (B, N), generator=g) for c in cfg.text.prosody_cardinalities], -1)
    text_lengths = torch.tensor([N, N - 3])
    spec = torch.rand(B, cfg.audio.spec_channels, T, generator=g)
    spec_lengths = torch.tensor([T, T - 10])
    mel = torch.randn(B, cfg.audio.n_mels, T, generator=g)
    speaker = torch.zeros(B, dtype=torch.long)
    return ids, prosody, text_lengths, spec, spec_lengths, mel, speaker


@pytest.fixture(scope="module")
def tiny() -> UniFLG:
    return UniFLG(tiny_config()).eval()


def test_stage1_forward_shapes(tiny: UniFLG) -> None:
    cfg = tiny.cfg
    ids, prosody, tl, spec, sl, mel, g = _batch(cfg)
    tiny.train()
    out = tiny(ids, prosody, tl, spec, sl, mel, g)
    tiny.eval()
    D, T, N = cfg.vits.inter_channels, spec.size(2), ids.size(1)
    assert out.wav_hat.shape == (2, 1, cfg.vits.segment_frames * cfg.audio.hop_length)
    assert out.attn.shape == (2, T, N)
    assert out.z_p.shape == out.m_p.shape == out.logs_p.shape == out.logs_q.shape == (2, D, T)
    assert out.mu_u.shape == out.logvar_u.shape == (2, cfg.vits.utterance_dim)
    # Each valid frame is assigned to exactly one token; padded frames to none.
    assert torch.equal(out.attn.sum(2)[1, :38], torch.ones(38))
    assert out.attn[1, 38:].sum() == 0
    assert torch.equal(out.attn.sum((1, 2)), sl.float())
    assert torch.isfinite(out.duration_loss)


@pytest.mark.parametrize("trains_utterance", [True, False])
def test_duration_loss_reaches_utterance_encoder_only_when_asked(trains_utterance: bool) -> None:
    """The duration loss may train the utterance encoder (so z_u learns speaking rate) but never the
    speaker embedding or the text encoder, which VITS keeps out of the duration predictor's graph."""
    torch.manual_seed(3)
    model = UniFLG(tiny_config()).train()
    for p in model.duration.parameters():  # the flows' zero-initialised projections hide the context at init
        torch.nn.init.normal_(p, std=0.1)
    ids, prosody, tl, spec, sl, mel, g = _batch(model.cfg)
    out = model(ids, prosody, tl, spec, sl, mel, g, duration_trains_utterance=trains_utterance)
    out.duration_loss.backward()

    def grad_sum(module: torch.nn.Module) -> float:
        return float(sum(p.grad.abs().sum() for p in module.parameters() if p.grad is not None))

    assert grad_sum(model.duration) > 0
    assert grad_sum(model.g_embedding) == 0 and grad_sum(model.text_encoder) == 0
    if trains_utterance:
        assert grad_sum(model.utterance) > 0 and grad_sum(model.u_projection) > 0
    else:
        assert grad_sum(model.utterance) == 0 and grad_sum(model.u_projection) == 0


def test_module_shapes(tiny: UniFLG) -> None:
    cfg = tiny.cfg
    ids, prosody, tl, spec, sl, mel, g = _batch(cfg)
    prior = tiny.encode_text(ids, prosody, tl)
    assert prior.hidden.shape == (2, cfg.text.hidden_channels, 9)
    assert prior.m_p.shape == prior.logs_p.shape == (2, cfg.vits.inter_channels, 9)
    z_u, mu, logvar = tiny.encode_utterance(mel, sl)
    assert z_u.shape == (2, 16)
    cond = tiny.condition(g, z_u)
    assert cond.shape == (2, cfg.vits.gin_channels, 1)
    log_w = tiny.predict_log_durations(prior, cond, torch.randn(2, 2, 9))
    assert log_w.shape == (2, 1, 9)
    z_p, mask = tiny.speech_latent(spec, sl, cond)
    assert z_p.shape == (2, cfg.vits.inter_channels, 48)
    wav = tiny.synthesize_speech(z_p, mask, cond)
    assert wav.shape == (2, 1, 48 * cfg.audio.hop_length)
    lm = tiny.decode_landmarks(torch.randn(2, cfg.vits.inter_channels, 15), torch.ones(2, 1, 15),
                               tiny.landmark_condition(g, z_u))
    assert lm.shape == (2, 15, 70, 2)


@pytest.mark.parametrize("kind", ["hifigan", "istft"])
def test_decoders_upsample_by_hop(kind: str) -> None:
    cfg = paper_config() if kind == "hifigan" else small_config()
    dec = build_decoder(8, cfg.decoder.__class__(**{**cfg.decoder.__dict__, "upsample_initial_channel": 32}), 0)
    assert dec(torch.randn(1, 8, 5)).shape == (1, 1, 5 * 256)


def test_discriminators_shapes() -> None:
    disc = MultiPeriodScaleDiscriminator(tiny_config().discriminator)
    real, fake = torch.randn(2, 1, 4096), torch.randn(2, 1, 4096)
    r, f, rm, fm = disc(real, fake)
    assert len(r) == len(f) == 1 + len(tiny_config().discriminator.periods)
    assert all(a.shape == b.shape for a, b in zip(r, f, strict=True))
    assert all(len(a) == len(b) > 0 for a, b in zip(rm, fm, strict=True))


def test_conv_istft_matches_torch_istft() -> None:
    n_fft, hop = 16, 4
    x = torch.randn(3, 4096)
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)
    ours = ConvISTFT(n_fft, hop)(spec.real, spec.imag)[:, 0]
    ref = torch.istft(spec, n_fft, hop, window=window, center=True)
    n = min(ours.size(-1), ref.size(-1))
    assert abs(ours.size(-1) - ref.size(-1)) <= hop
    assert torch.max(torch.abs(ours[:, :n] - ref[:, :n])) < 1e-5


def test_flow_inverse_round_trip(tiny: UniFLG) -> None:
    D = tiny.cfg.vits.inter_channels
    # Perturb the zero-initialized couplings so the test exercises a non-identity flow.
    with torch.no_grad():
        for c in tiny.flow.couplings:
            c.post.weight.normal_(0, 0.3)
    z = torch.randn(2, D, 40)
    mask = torch.ones(2, 1, 40)
    mask[1, :, 30:] = 0
    cond = torch.randn(2, tiny.cfg.vits.gin_channels, 1)
    z = z * mask
    y = tiny.flow(z, mask, cond)
    assert (y - z).abs().max() > 1e-2
    back = tiny.flow(y, mask, cond, reverse=True)
    assert (back - z).abs().max() < 1e-4


def test_spline_inverse_and_logdet() -> None:
    torch.manual_seed(3)
    x = torch.linspace(-6, 6, 101).view(1, 1, 101)
    w, h, d = torch.randn(1, 1, 101, 10), torch.randn(1, 1, 101, 10), torch.randn(1, 1, 101, 9)
    y, logdet = rational_quadratic_spline(x, w, h, d, inverse=False, tail_bound=5.0)
    x_back, inv_logdet = rational_quadratic_spline(y, w, h, d, inverse=True, tail_bound=5.0)
    assert (x_back - x).abs().max() < 1e-4
    assert (logdet + inv_logdet).abs().max() < 1e-4
    # Outside the tails the transform is the identity.
    assert torch.equal(y[..., :8], x[..., :8])
    # log|dy/dx| agrees with a finite difference inside the bound.
    eps = 1e-6
    xd, wd, hd, dd = x.double(), w.double(), h.double(), d.double()
    y_hi, _ = rational_quadratic_spline(xd + eps, wd, hd, dd, inverse=False, tail_bound=5.0)
    y_lo, _ = rational_quadratic_spline(xd - eps, wd, hd, dd, inverse=False, tail_bound=5.0)
    fd = torch.log((y_hi - y_lo) / (2 * eps))
    assert (fd[..., 20:80] - logdet[..., 20:80].double()).abs().max() < 1e-3


def test_sdp_trains_and_infers() -> None:
    sdp = StochasticDurationPredictor(16, gin_channels=8)
    x, mask = torch.randn(2, 16, 7), torch.ones(2, 1, 7)
    nll = sdp(x, mask, torch.randint(1, 6, (2, 1, 7)).float(), torch.randn(2, 8, 1))
    assert nll.shape == (2,) and torch.isfinite(nll).all()
    nll.sum().backward()
    log_w = sdp.infer(x, mask, torch.randn(2, 2, 7), torch.randn(2, 8, 1))
    assert log_w.shape == (2, 1, 7)


def _brute_force_best(values: np.ndarray) -> float:
    """Enumerate every monotonic path (each token >= 1 frame, in order) and return the best score."""
    T_y, T_x = values.shape
    best = -math.inf
    for cuts in itertools.combinations(range(1, T_y), T_x - 1):
        bounds = (0, *cuts, T_y)
        score = sum(values[bounds[i]:bounds[i + 1], i].sum() for i in range(T_x))
        best = max(best, score)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_mas_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    T_x = int(rng.integers(1, 5))
    T_y = int(rng.integers(T_x, 9))
    values = rng.normal(size=(1, T_y + 2, T_x + 1))  # padding beyond the valid lengths must be ignored
    path = maximum_path_numpy(values, np.array([T_y]), np.array([T_x]))
    p = path[0, :T_y, :T_x]
    assert path[0, T_y:].sum() == 0 and path[0, :, T_x:].sum() == 0
    assert np.all(p.sum(1) == 1)  # one token per frame
    tokens = p.argmax(1)
    assert tokens[0] == 0 and tokens[-1] == T_x - 1
    assert np.all(np.diff(tokens) >= 0) and np.all(np.diff(tokens) <= 1)
    assert np.isclose((p * values[0, :T_y, :T_x]).sum(), _brute_force_best(values[0, :T_y, :T_x]))


@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.37, 4.9])
def test_landmark_frame_counts(tiny: UniFLG, seconds: float) -> None:
    cfg = tiny.cfg
    T = int(round(seconds * cfg.audio.frame_rate))
    n_samples = T * cfg.audio.hop_length
    n_land = landmark_frames(n_samples, cfg.audio.sample_rate, 30)
    assert n_land == round(n_samples / cfg.audio.sample_rate * 30)
    # Speech path: resampled f(z_f) has exactly n_land frames.
    spec = torch.rand(1, cfg.audio.spec_channels, T)
    g, z_u = torch.zeros(1, dtype=torch.long), torch.zeros(1, 16)
    lm = tiny.infer_speech(spec, g, z_u, n_land)
    assert lm.shape == (1, n_land, 70, 2)
    # Text path: d_land from cumulative rounding sums to n_land and matches the NumPy runtime version.
    d_spec = torch.tensor([[3.0, 7.0, 1.0, T - 11.0]])
    path = UniFLG.landmark_path(d_spec, torch.tensor([n_land]))
    assert path.shape == (1, n_land, 4)
    assert torch.equal(path.sum(2), torch.ones(1, n_land))
    np.testing.assert_array_equal(path.sum(1)[0].numpy(), landmark_durations(d_spec[0].numpy(), n_land))


def test_text_inference_lengths_agree(tiny: UniFLG) -> None:
    cfg = tiny.cfg
    ids = torch.randint(1, 100, (1, 12))
    prosody = torch.zeros(1, 12, 3, dtype=torch.long)
    wav, lm, d_spec = tiny.infer_text(ids, prosody, torch.zeros(1, dtype=torch.long), torch.zeros(1, 16),
                                      torch.randn(1, 2, 12), torch.randn(1, cfg.vits.inter_channels, 4000),
                                      torch.randn(1, cfg.vits.inter_channels, 2000))
    assert wav.shape[-1] == int(d_spec.sum()) * cfg.audio.hop_length
    assert lm.shape[1] == round(wav.shape[-1] / cfg.audio.sample_rate * 30)


def test_checkpoint_round_trip_bit_exact(tmp_path, tiny: UniFLG) -> None:
    path = save_model(tiny, tmp_path / "m.safetensors")
    assert read_config(path) == tiny.cfg
    loaded = load_model(path)
    a, b = tiny.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list(tmp_path.glob("*.tmp"))


def test_model_files_of_both_config_keys_load(tmp_path, tiny: UniFLG) -> None:
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in tiny.state_dict().items()}
    save_file(state, str(tmp_path / "old.safetensors"), metadata={"uniflg.config": tiny.cfg.to_json()})
    loaded = load_model(tmp_path / "old.safetensors")
    assert read_config(tmp_path / "old.safetensors") == tiny.cfg
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in tiny.state_dict().items())


def test_skip_prefixes_leave_a_module_fresh(tmp_path, tiny: UniFLG) -> None:
    path = save_model(tiny, tmp_path / "m.safetensors")
    other = tiny.cfg.replace(variant=VariantConfig(landmark_training="speech", landmark_input="spectrogram"))
    model = load_model(path, config=other, skip_prefixes=("landmark_decoder.",))
    assert model.cfg == other
    a = tiny.text_encoder.state_dict()
    assert all(torch.equal(v, model.text_encoder.state_dict()[k]) for k, v in a.items())
    with pytest.raises(ModelFormatError, match="missing"):
        truncated = {k: v for k, v in tiny.state_dict().items() if not k.startswith("landmark_decoder.")}
        from uniflg.model.io import save_weights

        load_model(save_weights(tmp_path / "partial.safetensors", truncated, tiny.cfg))


def test_load_failures_are_model_format_errors(tmp_path, tiny: UniFLG) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelFormatError, match="cannot read model file"):
        load_model(bad)
    with pytest.raises(ModelFormatError, match="not found"):
        load_model(tmp_path / "absent.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelFormatError, match="no model config"):
        load_model(tmp_path / "plain.safetensors")


def test_export_of_a_broken_model_file_is_one_clean_line(tmp_path, caplog) -> None:
    from uniflg.cli import main

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["export", "--checkpoint", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.levelname == "ERROR"] == [
        f"cannot read model file {bad}"]


def test_as_variant_conditions_landmarks_on_emotion() -> None:
    cfg = tiny_config(variant=VariantConfig(conditioning="emotion"), speakers=("a", "b", "c", "d"))
    model = UniFLG(cfg).eval()
    assert model.cfg.n_conditions == 3  # g is the emotion one-hot
    assert model.g_embedding.num_embeddings == 3
    assert model.landmark_condition_channels == 3
    g = torch.tensor([2])
    cond = model.landmark_condition(g, torch.randn(1, 16))
    assert torch.equal(cond[0, :, 0], torch.tensor([0.0, 0.0, 1.0]))
    # z_u does not reach the landmark decoder in AS; the emotion does.
    x, m = torch.randn(1, cfg.vits.inter_channels, 10), torch.ones(1, 1, 10)
    with torch.no_grad():
        for p in model.landmark_decoder.parameters():
            p.normal_(0, 0.1)
        a = model.decode_landmarks(x, m, model.landmark_condition(g, torch.randn(1, 16)))
        b = model.decode_landmarks(x, m, model.landmark_condition(g, torch.randn(1, 16)))
        c = model.decode_landmarks(x, m, model.landmark_condition(torch.tensor([0]), torch.randn(1, 16)))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-4
    # UniFLG proper: z_u is the landmark condition.
    base = UniFLG(tiny_config()).eval()
    z_u = torch.randn(1, 16)
    assert torch.equal(base.landmark_condition(g[:1] * 0, z_u)[0, :, 0], z_u[0])


@pytest.mark.parametrize("variant,name", [
    (VariantConfig(), "UniFLG"), (VariantConfig(conditioning="emotion"), "UniFLG-AS"),
    (VariantConfig(landmark_training="text"), "TTL"), (VariantConfig(landmark_training="speech"), "STL"),
    (VariantConfig(landmark_training="speech", landmark_input="spectrogram"), "STL-D")])
def test_variants_are_configurations(variant: VariantConfig, name: str) -> None:
    cfg = tiny_config(variant=variant)
    assert cfg.variant.name == name
    model = UniFLG(cfg)
    expected_in = cfg.audio.spec_channels if name == "STL-D" else cfg.vits.inter_channels
    assert model.landmark_decoder.pre.in_channels == expected_in


def test_paper_landmark_decoder_size() -> None:
    cfg = paper_config()
    assert (cfg.landmarks.layers, cfg.landmarks.channels, cfg.landmarks.kernel_size, cfg.landmarks.dilation) \
        == (16, 192, 5, 1)
    assert cfg.audio.sample_rate == 24000 and cfg.vits.utterance_dim == 16
    from uniflg.model.landmark_decoder import LandmarkDecoder

    dec = LandmarkDecoder(cfg.vits.inter_channels, cfg.landmarks, cfg.vits.utterance_dim)
    n = sum(p.numel() for p in dec.parameters())
    # Architecture count: pre 192*192+192; 16 gated convs 192->384 (k=5); 15 res/skip 192->384 and one
    # 192->192 (1x1); the global-condition projection 16 -> 16*384; post 192->140; weight-norm gains.
    C, L, K = 192, 16, 5
    expected = (C * C + C) + L * (C * 2 * C * K + 2 * C) + (L - 1) * (C * 2 * C + 2 * C) + (C * C + C) \
        + (16 * 2 * C * L + 2 * C * L) + (C * 140 + 140)
    gains = L * 2 * C + (L - 1) * 2 * C + C + 2 * C * L
    assert n == expected + gains
    assert 7.1e6 < n < 7.3e6


def test_named_configs_round_trip() -> None:
    for name in ("paper", "small", "tiny"):
        cfg = named_config(name)
        assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="upsamples"):
        tiny_config(decoder=tiny_config().decoder.__class__(kind="istft", upsample_rates=(4, 2),
                                                            upsample_kernel_sizes=(8, 4)))


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_an_stl_d_voice_draws_faces_from_speech_and_says_so_for_text(tmp_path, backend: str) -> None:
    """STL-D's landmark decoder reads spectrograms: the text path's latents once reached it and failed inside
    ONNX Runtime; now text is refused in one line naming mode p, which (like animate) works."""
    from uniflg.errors import InvalidInputError
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice, random_voice

    folder = random_voice("tiny", tmp_path / "stl-d", onnx=backend == "onnxruntime",
                          variant=VariantConfig(landmark_training="speech", landmark_input="spectrogram"))
    voice = load_voice(folder, backend)
    for call in (voice.synthesize_all, voice.synthesize, voice.landmarks_from_text):
        with pytest.raises(InvalidInputError, match=r"is STL-D: its landmark decoder reads speech, so the text path "
                                                    r"draws no face; .* synthesize in pipelined mode \('p'"):
            call("こんにちは")
    audio, faces = voice.synthesize_all("こんにちは。はい。", SynthesisOptions(mode="p"))
    assert len(faces) == round(audio.size / voice.sample_rate * 30) > 0
    assert voice.animate_array(np.full(24000, 0.01, np.float32), voice.sample_rate).shape == (30, 70, 2)
    # the face calibration reads the pipelined path's faces instead of the text path's (labelled the same way)
    from uniflg.avatar import CALIBRATION_TEXTS, measure_face_calibration

    calibration = measure_face_calibration(voice, CALIBRATION_TEXTS[:6])
    assert calibration.vowel_model is not None and set(calibration.vowels) == set("aiueo")
