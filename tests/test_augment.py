"""Speech augmentation: each transform does what it says (level, SNR, band edges, RT60), seeded, same length."""

from __future__ import annotations

import numpy as np
import pytest
from uniflg_train.data.augment import AugmentOptions, SpeechAugmenter, room_impulse_response

SR = 24000
NONE = dict(p_warp=0.0, p_reverb=0.0, p_noise=0.0, p_hum=0.0, p_gain=0.0, p_dc=0.0, p_clip=0.0, p_telephone=0.0,
            p_resample=0.0)


def _only(**kw) -> SpeechAugmenter:
    return SpeechAugmenter(SR, AugmentOptions(**{**NONE, **kw}))


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.1) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(a.astype(np.float64) ** 2) / np.mean(b.astype(np.float64) ** 2)))


def test_gain_stays_in_range_and_is_a_pure_scale() -> None:
    x = _tone(300)
    aug = _only(p_gain=1.0, gain_db=(-30.0, 6.0))
    gains = []
    for seed in range(30):
        y = aug(x, seed)
        g = _db(y, x)
        np.testing.assert_allclose(y, x * np.float32(10 ** (g / 20)), rtol=1e-4, atol=1e-7)
        gains.append(g)
    assert min(gains) >= -30.0 and max(gains) <= 6.0 and max(gains) - min(gains) > 20


@pytest.mark.parametrize("kind", ["color", "babble", "music", "band"])
def test_noise_is_added_at_the_drawn_snr(kind: str) -> None:
    x = _tone(220, 2.0)
    babble = [_tone(f, 3.0) for f in (150, 170, 330)]
    aug = SpeechAugmenter(SR, AugmentOptions(**{**NONE, "p_noise": 1.0, "snr_db": (12.0, 12.0),
                                                "noise_kinds": (kind,)}), babble=babble)
    y = aug(x, 4)
    assert _db(x, y - x) == pytest.approx(12.0, abs=0.3)


def test_hum_and_dc() -> None:
    x = _tone(440)
    y = _only(p_hum=1.0, hum_snr_db=(20.0, 20.0))(x, 0)
    assert _db(x, y - x) == pytest.approx(20.0, abs=0.3)
    spec = np.abs(np.fft.rfft(y - x))
    assert int(np.argmax(spec)) in (50, 60)  # 1-s signal: bin = Hz
    d = _only(p_dc=1.0, dc=(0.2, 0.2))(x, 0) - x
    np.testing.assert_allclose(d, 0.2, atol=1e-6)


def test_telephone_band_edges() -> None:
    aug = _only(p_telephone=1.0)
    assert _db(aug(_tone(1000), 0)[SR // 4:], _tone(1000)[SR // 4:]) == pytest.approx(0.0, abs=0.2)
    assert _db(aug(_tone(100), 0)[SR // 4:], _tone(100)[SR // 4:]) < -30
    assert _db(aug(_tone(7000), 0)[SR // 4:], _tone(7000)[SR // 4:]) < -30


@pytest.mark.parametrize("rate", [8000, 16000])
def test_resampling_removes_what_the_lower_rate_cannot_carry(rate: int) -> None:
    aug = _only(p_resample=1.0, resample_rates=(rate,))
    keep, drop = _tone(1000), _tone(rate / 2 + 1000)
    assert aug(keep, 0).size == keep.size
    assert _db(aug(keep, 0)[1000:-1000], keep[1000:-1000]) == pytest.approx(0.0, abs=0.2)
    assert _db(aug(drop, 0)[1000:-1000], drop[1000:-1000]) < -40


def test_clipping_flattens_the_peaks() -> None:
    x = _tone(200, amp=0.5)
    y = _only(p_clip=1.0)(x, 3)
    assert np.abs(y).max() < np.abs(x).max() - 0.01 and y.size == x.size


@pytest.mark.parametrize(("rt60", "tol"), [(0.1, 0.4), (0.2, 0.15), (0.5, 0.15), (0.8, 0.15)])
def test_room_impulse_response_has_the_requested_rt60(rt60: float, tol: float) -> None:
    import pyroomacoustics as pra

    measured = [pra.experimental.measure_rt60(room_impulse_response(SR, rt60, np.random.default_rng(s)), fs=SR,
                                              decay_db=20) for s in range(3)]
    assert np.median(measured) == pytest.approx(rt60, rel=tol)


def test_reverb_keeps_the_speech_in_place_and_everything_is_seeded() -> None:
    x = np.zeros(SR, np.float32)
    x[SR // 2] = 1.0
    y = _only(p_reverb=1.0, rt60=(0.4, 0.4))(x, 0)
    assert int(np.argmax(np.abs(y))) == SR // 2  # the direct path is not delayed (labels stay aligned)
    full = SpeechAugmenter(SR)
    speech = _tone(180, 2.0) * (1 + np.sin(2 * np.pi * 3 * np.arange(2 * SR) / SR)).astype(np.float32)
    outs = [full(speech, s) for s in range(12)]
    assert all(o.shape == speech.shape and o.dtype == np.float32 and np.isfinite(o).all() for o in outs)
    np.testing.assert_array_equal(full(speech, 7), outs[7])
    assert len({o.tobytes() for o in outs}) > 8
    with pytest.raises(ValueError, match="p_noise"):
        AugmentOptions(p_noise=1.5)


@pytest.mark.parametrize("semitones", [-2.0, 2.0])
def test_vocal_tract_warp_scales_the_spectrum_and_keeps_the_timing(semitones: float) -> None:
    """A 200 Hz harmonic tone with a 1 kHz resonance, bursting from 0.3 to 0.8 s: after the warp every partial
    (pitch) and the resonance (formant) sit at 2**(semitones/12) times their frequency, the burst stays put."""
    t = np.arange(SR) / SR
    x = sum(np.exp(-(((k * 200) - 1000) / 400) ** 2) * np.sin(2 * np.pi * k * 200 * t) for k in range(1, 12))
    gate = ((t > 0.3) & (t < 0.8)).astype(np.float64)
    x = (0.1 * x * gate).astype(np.float32)
    y = _only(p_warp=1.0, warp_semitones=(semitones, semitones))(x, 0)
    assert y.shape == x.shape
    ratio = 2 ** (semitones / 12)
    seg = slice(int(0.4 * SR), int(0.7 * SR))
    spec = np.abs(np.fft.rfft(y[seg] * np.hanning(seg.stop - seg.start)))
    freqs = np.fft.rfftfreq(seg.stop - seg.start, 1 / SR)
    peak = freqs[np.argmax(spec)]   # the partial nearest the resonance
    assert peak == pytest.approx(1000 * ratio, rel=0.06)
    band = (freqs > 100) & (freqs < 300)  # the fundamental
    low = freqs[band][np.argmax(spec[band])]
    assert low == pytest.approx(200 * ratio, rel=0.05)
    env = np.abs(y).reshape(-1, SR // 100).max(1)  # 10-ms peak envelope
    on = np.nonzero(env > 0.5 * env.max())[0]
    assert on[0] / 100 == pytest.approx(0.3, abs=0.03) and on[-1] / 100 == pytest.approx(0.8, abs=0.03)


def test_band_keeps_its_tempo_and_is_seeded() -> None:
    """The drum kit plays on eighth notes of the drawn tempo: the onset envelope repeats at a multiple of them."""
    from uniflg_train.evaluation.robustness import band

    n = 8 * SR
    x = band(n, SR, np.random.default_rng(7), vocals=True)
    assert x.shape == (n,) and x.dtype == np.float32 and np.sqrt(np.mean(x.astype(np.float64) ** 2)) == \
        pytest.approx(1.0, rel=1e-3)
    np.testing.assert_array_equal(x, band(n, SR, np.random.default_rng(7), vocals=True))
    eighth = 60.0 / np.random.default_rng(7).uniform(80.0, 150.0) / 2  # the first draw is the tempo
    hp = np.diff(x.astype(np.float64))  # the hats and snare live high, the pads and voice low
    env = np.sqrt((hp[: hp.size // 240 * 240].reshape(-1, 240) ** 2).mean(1))  # 10 ms blocks
    env = env - env.mean()
    ac = np.correlate(env, env, "full")[env.size - 1:]
    lo, hi = 20, 100  # 0.2-1.0 s
    lag = (lo + int(np.argmax(ac[lo:hi]))) / 100
    k = round(lag / eighth)
    assert k >= 1 and abs(lag - k * eighth) <= 0.015  # within 1.5 blocks of a whole number of eighths


def test_unknown_noise_kind_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="subset of color, babble, music, band; got drums"):
        AugmentOptions(noise_kinds=("drums",))


@pytest.mark.parametrize("kind", ["color", "babble", "music", "band"])
def test_every_noise_kind_fits_a_clip_of_any_length(kind: str) -> None:
    """A clip may end anywhere, even a few samples into a drum hit (a stage-2 run once died there: the hi-hat's
    filter was longer than the cut hit)."""
    from uniflg_train.evaluation.robustness import band

    eighth = 60.0 / np.random.default_rng(7).uniform(80.0, 150.0) / 2  # band's first draw is the tempo
    cut = int(5 * eighth * SR) + 3  # 3 samples into the sixth hit
    for n in (cut, cut + 5, 7, 1):
        assert band(n, SR, np.random.default_rng(7)).shape == (n,)
    babble = [_tone(f, 3.0) for f in (150, 170, 330)]
    aug = SpeechAugmenter(SR, AugmentOptions(**{**NONE, "p_noise": 1.0, "noise_kinds": (kind,)}), babble=babble)
    for n in (cut, 3 * SR + 1, SR // 10):
        x = _tone(220, n / SR)[:n]
        y = aug(x, 3)
        assert y.shape == x.shape and np.isfinite(y).all()
