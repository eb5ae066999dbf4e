"""What avatars receive: a voice's face calibration, and per-stream blendshapes with run-time blinks.

:func:`face_calibration` gives the :class:`~uniflg.retarget.Calibration` of a voice: stored in its
``voice.json`` (``face_calibration``) or else measured once on load by :func:`measure_face_calibration` from
the voice's own output: its silence face (landmarks for digital silence: lips shut), the neutral band of its
neutral speech, and its mean face on each vowel (text path timing). :class:`AvatarStream` is the one place
where a stream's landmark chunks become ARKit-52 and VRM0 weights, with :mod:`uniflg.blinks` added.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from uniflg.blinks import BlinkTrack
from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS
from uniflg.retarget import ARKIT_52, VOWELS, Calibration, Retargeter
from uniflg.types import SynthesisOptions
from uniflg.voice_spec import VOICE_FILE, read_spec
from uniflg.vowels import VowelModel, VowelState, mouth_shape

SILENCE_SECONDS = 2.0
SPEECH_PATH_TEXTS = 16  # calibration texts the speech paths' own vowel classifiers are fitted on
# Neutral calibration sentences (hand-written): every Japanese vowel in many contexts, ~3400 vowel frames on the
# default voice. Not among the benchmark's held-out sentences or its demo sentence
# (uniflg_train.evaluation.blendshapes), so the benchmark measures unseen text.
CALIBRATION_TEXTS: tuple[str, ...] = (
    "あおいうみとあかいやまがみえます。",
    "きのうはえきのちかくでともだちにあいました。",
    "いえのまえにおおきなきがうえてあります。",
    "むずかしいもんだいもすこしずつとけばだいじょうぶです。",
    "けさはやくおきてこうえんをさんぽしました。",
    "おいしいおちゃをいれてゆっくりやすみましょう。",
    "となりのいえのいぬはよくほえます。",
    "えいがかんのまえでまちあわせをしましょう。",
    "このみせのケーキはあまくておいしい。",
    "おとうとはサッカーがとてもうまい。",
    "しずかなへやでほんをよむのがすきです。",
    "はるになるとさくらのはながさきます。",
    "こおりをいれたみずをのみたいです。",
    "てがみをかいてポストにいれました。",
    "あさごはんにたまごをやきました。",
    "ふるいとけいがまだうごいています。",
    "せんせいにしつもんをしてもいいですか？",
    "やさいをたくさんたべるようにしています。",
    "きたのくにはふゆがながくてさむい。",
    "うえのたなにあるはこをとってください。",
    "ねこがまどのそばでねむっている。",
    "みなとのちかくにおおきなホテルがたった。",
    "えきまえのほんやはよるおそくまであいています。",
    "おおきなこえでうたをうたいました。",
    "そとはあめなのでいえであそびましょう。",
    "いもうとはえをかくのがじょうずです。",
    "このかわのみずはとてもきれいです。",
    "くもがでてきたのでせんたくものをいれた。",
    "あおいそらにしろいくもがうかんでいる。",
    "おみせのひとにみちをおしえてもらった。",
    "めがねをどこにおいたかわすれました。",
    "えんぴつとけしごむをかしてください。",
    "よるはうちでえいがをみるつもりです。",
    "おばあさんはまいあさこうえんをあるきます。",
    "ひこうきのまどからふじさんがみえた。",
    "あしたはあさからあめがふるそうです。",
    "いけのまわりをいっしゅうはしりました。",
    "このえはだれがかいたのですか？",
    "おなかがすいたのでうどんをたべよう。",
    "ゆうがたになるとかぜがつよくなる。",
)
log = logging.getLogger(__name__)
_BLINK_COLUMNS = (ARKIT_52.index("eyeBlinkLeft"), ARKIT_52.index("eyeBlinkRight"))


def frame_symbols(timing: Sequence[tuple[str, float, float]], n_frames: int, fps: int = FPS) -> list[str]:
    """The token at each landmark frame's time ``j / fps`` (frame j shows the face at that instant, as the
    corpus faces were drawn and as time codes count), from ``Voice.phoneme_timing``; frames past the last
    token get the last token's symbol. InvalidInputError for a negative ``n_frames``."""
    if isinstance(n_frames, bool) or not isinstance(n_frames, int | np.integer) or n_frames < 0:
        raise InvalidInputError(f"n_frames must be a whole number >= 0; got {n_frames!r}")
    if not timing:
        return ["" for _ in range(n_frames)]
    ends = np.array([e for _, _, e in timing])
    idx = np.searchsorted(ends, np.arange(n_frames) / fps, side="right").clip(0, len(timing) - 1)
    return [timing[k][0] for k in idx]


def measure_face_calibration(voice: Any, texts: Iterable[str] = CALIBRATION_TEXTS,
                             options: SynthesisOptions | None = None) -> Calibration:
    """Measure a voice's :class:`Calibration` (12 s of a 2-core CPU for the default voice): rest face = median of the
    landmarks the voice gives for :data:`SILENCE_SECONDS` of digital silence; neutral band and vowel prototypes from the
    text path (STL-D, which has none: the pipelined path) on ``texts`` at ``options`` (default: the voice's default
    speaker and emotion, seed 0), each frame labelled with the token at its time (:func:`frame_symbols`); the vowel
    classifier from the same texts in that style, and one more per other stored emotion (happy and sad open and spread
    the mouth differently: read with the neutral classifier, their vowels all came out A or O;
    :meth:`Calibration.for_style` picks one); and per speech path its rest face, neutral band and vowel classifier, from
    the faces it draws for the voice's own speech (:meth:`Calibration.for_path`). InvalidInputError for no texts, a
    blank or non-string one, or one string instead of a list of them (:func:`_calibration_texts`)."""
    texts = _calibration_texts(texts)
    options = options or SynthesisOptions()
    silence = voice.animate_array(np.zeros(int(SILENCE_SECONDS * voice.sample_rate), np.float32),
                                  voice.sample_rate, replace(options, reference_audio=None))
    fps = voice.stream_info(options).fps
    styles = [options] + [replace(options, emotion=e) for e in _other_styles(voice, options)]
    rendered = []
    with tqdm(total=len(texts) * len(styles), desc="face calibration", leave=False) as bar:
        for style in styles:
            tracks, labels, sentences = [], [], []
            for k, text in enumerate(texts):
                lm = _text_faces(voice, text, style)
                tracks.append(lm)
                labels += frame_symbols(voice.phoneme_timing(text, style), len(lm), fps)
                sentences += [k] * len(lm)
                bar.update()
            rendered.append((np.concatenate(tracks), np.array(labels), np.array(sentences)))
    (speech, label, sentence), others = rendered[0], rendered[1:]
    vowel_frames = {v: np.flatnonzero(label == v) for v in VOWELS}
    calibration = Calibration.from_tracks(
        silence, speech, {v: i for v, i in vowel_frames.items() if i.size}, labels=label, sentences=sentence,
        fps=fps, styles={str(s.emotion): track for s, track in zip(styles[1:], others, strict=True)})
    faces, models, bands = _speech_paths(voice, texts, options, fps)
    return replace(calibration, path_rest_faces=faces, path_models=models, path_bands=bands)


def _calibration_texts(texts: Any) -> list[str]:
    """``texts`` as a list of non-blank strings (any iterable: a list, tuple, generator, NumPy array), checked before
    any synthesis; InvalidInputError naming what is wrong (a str is iterable too, of one-character "texts")."""
    wanted = "face calibration needs a list of one or more texts"
    if texts is None or isinstance(texts, (str, bytes)):
        raise InvalidInputError(f"{wanted}; got {texts!r}")
    try:
        listed = list(texts)
    except TypeError:
        raise InvalidInputError(f"{wanted}; got {type(texts).__name__}") from None
    if not listed:
        raise InvalidInputError(f"{wanted}; got none")
    for i, text in enumerate(listed):
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{wanted}; text {i} is {text!r}, not a non-blank string")
    return listed


Band = tuple[dict[str, float], dict[str, float]]


def _reads_speech(voice: Any) -> bool:
    """STL-D: the landmark decoder reads spectrograms, so the text path draws no face; the calibration reads the
    pipelined path's faces (its own speech, animated) on the same phoneme timing."""
    variant = getattr(getattr(voice, "config", None), "variant", None)
    return variant is not None and not variant.text_faces


def _text_faces(voice: Any, text: str, options: SynthesisOptions) -> np.ndarray:
    """``[T, 70, 2]``: the faces the calibration reads for ``text`` (the text path's; STL-D: the pipelined's)."""
    if _reads_speech(voice):
        return np.asarray(voice.synthesize_all(text, replace(options, mode="p"))[1])
    return np.asarray(voice.landmarks_from_text(text, options))


def _speech_paths(voice: Any, texts: Sequence[str], options: SynthesisOptions, fps: int
                  ) -> tuple[dict[str, np.ndarray], dict[str, VowelModel], dict[str, Band]]:
    """Per speech path: its face on digital silence (the median frame; the offline one is the calibration's own
    rest face), and the neutral band and vowel classifier of the faces it draws for the voice's own speech of
    ``texts`` (labelled by that speech's phoneme timing)."""
    faces: dict[str, np.ndarray] = {}
    models: dict[str, VowelModel] = {}
    bands: dict[str, Band] = {}
    paths = list(getattr(voice, "speech_paths", lambda: [])())
    if not paths:
        return faces, models, bands
    # the first texts suffice (every vowel 100+ frames on the default voice): each costs a synthesis and an
    # animation per path, and a voice without a stored calibration measures it when a server or stream starts
    spoken = replace(options, mode="p") if _reads_speech(voice) else options  # the same speech either way
    speech = [(voice.synthesize_all(t, spoken)[0], voice.phoneme_timing(t, options))
              for t in texts[:SPEECH_PATH_TEXTS]]
    for path in tqdm(paths, desc="face calibration (speech paths)", leave=False):
        on_path = replace(options, reference_audio=None,
                          max_lookahead_ms=None if path.name == "offline" else path.lookahead_ms)
        silence = voice.animate_array(np.zeros(int(SILENCE_SECONDS * voice.sample_rate), np.float32),
                                      voice.sample_rate, on_path)
        if path.name != "offline":
            faces[path.name] = np.median(silence, axis=0).astype(np.float32)
        tracks, labels, sentences = [], [], []
        for k, (audio, timing) in enumerate(speech):
            lm = voice.animate_array(audio, voice.sample_rate, on_path)
            tracks.append(lm)
            labels += frame_symbols(timing, len(lm), fps)
            sentences += [k] * len(lm)
        bands[path.name] = Calibration.band_of(np.concatenate(tracks))
        try:
            models[path.name] = VowelModel.fit(mouth_shape(np.concatenate(tracks)),
                                               np.median(mouth_shape(silence), 0), np.array(labels),
                                               np.array(sentences), fps)
        except InvalidInputError as exc:
            log.warning("speech path %s: no vowel classifier of its own (%s)", path.name, exc)
    return faces, models, bands


def _other_styles(voice: Any, options: SynthesisOptions) -> list[str]:
    """The stored emotions (UniFLG; a UniFLG-AS voice's emotions are rows, not latents) other than the style
    ``options`` reads in, when it names none or one of them: the vowel classifier also fits on them."""
    spec = getattr(voice, "spec", None)
    if options.reference_audio is not None or spec is None or spec.config.variant.conditioning == "emotion":
        return []
    stored = list(spec.latents.get("emotion", {}))
    default = options.emotion or (stored[0] if stored else None)
    return [e for e in stored if e != default]


def face_calibration(voice: Any) -> Calibration:
    """The voice's calibration: ``voice.json``'s ``face_calibration`` if present, else measured once and kept on
    the voice object. Raises :class:`InvalidInputError` when the voice's faces cannot calibrate (e.g. an
    untrained voice whose eyes or mouth collapse)."""
    cached = getattr(voice, "_face_calibration", None)
    if isinstance(cached, Calibration):
        return cached
    stored = getattr(getattr(voice, "spec", None), "face_calibration", None)
    calibration = Calibration.from_dict(stored) if stored else measure_face_calibration(voice)
    if calibration.vowel_model is None:
        log.warning("voice %s: its face calibration predates the vowel classifier, so VRM A..O use the older "
                    "prototype rule; recalibrate with: uniflg calibrate-face --voice FOLDER",
                    getattr(getattr(voice, "spec", None), "name", "?"))
    with contextlib.suppress(AttributeError):  # a voice class with __slots__ measures again next time
        voice._face_calibration = calibration
    return calibration


def store_face_calibration(voice: Any, folder: str | Path, texts: Iterable[str] = CALIBRATION_TEXTS,
                           force: bool = False) -> Calibration:
    """Measure ``voice``'s calibration on ``texts`` (:func:`measure_face_calibration`) and write it into ``folder``'s
    ``voice.json`` (the voice's own folder): the one place a stored calibration comes from (``uniflg calibrate-face``,
    and ``uniflg export``). Fewer texts measure faster and coarser (tests store one from 6 texts in 3 s).

    Raises :class:`InvalidInputError`, and leaves ``voice.json`` as it was, when the new calibration lacks a part
    the stored one has (:func:`lost_parts`: texts whose vowels the voice does not read, e.g. English ones for a
    Japanese face, give no vowel classifier), unless ``force``; when ``folder`` cannot be written (checked before
    the measurement, which takes 13 s on the default voice); or when writing ``voice.json`` fails (a full disk)."""
    from uniflg.outputs import prepare_output

    prepare_output(Path(folder), option="the voice folder")
    calibration = measure_face_calibration(voice, texts)
    spec = read_spec(folder)
    if spec.face_calibration and not force and (lost := lost_parts(calibration,
                                                                   Calibration.from_dict(spec.face_calibration))):
        raise InvalidInputError(
            f"{Path(folder) / VOICE_FILE} keeps its face calibration: the one measured from these texts lacks "
            f"{', '.join(lost)} (texts in the language the voice's faces were trained on measure them, e.g. the "
            "default texts; force=True replaces it anyway)")
    try:
        replace(spec, face_calibration=calibration.to_dict()).write(Path(folder))
    except OSError as exc:  # it named its temporary file; the file the user knows is voice.json
        raise InvalidInputError(f"{Path(folder) / VOICE_FILE} cannot be rewritten ({exc.strerror or exc}); it is "
                                "left as it was, without the new calibration") from None
    with contextlib.suppress(AttributeError):
        voice._face_calibration = calibration
    return calibration


def lost_parts(new: Calibration, old: Calibration) -> list[str]:
    """What ``old`` measured and ``new`` did not: the vowel classifier, the jawOpen range from the voice's own /a/,
    a stored style's or a speech path's classifier -> their names, in that order (empty: nothing is lost)."""
    lost = []
    if old.vowel_model is not None and new.vowel_model is None:
        lost.append("the vowel classifier (VRM A..O)")
    if old.jaw_measured and not new.jaw_measured:
        lost.append("the measured jawOpen range")
    lost += [f"style {name!r}'s vowel classifier" for name in old.style_models if name not in new.style_models]
    lost += [f"speech path {name}'s vowel classifier" for name in old.path_models if name not in new.path_models]
    return lost


class AvatarStream:
    """One stream's blendshapes: ``weights(first_frame, landmarks)`` -> (ARKit ``[n, 52]``, VRM0 ``[n, 17]``).

    ``blinks``: a :class:`~uniflg.blinks.BlinkTrack` (None: the landmarks' own eyelids only). A run-time
    blink raises both ``eyeBlink`` weights to at least the blink curve; VRM ``Blink`` follows from them.
    VRM A..O continue from the previous chunk (:meth:`Retargeter.vowels` state) when ``first_frame`` follows
    it, so any chunking gives the same weights; any other ``first_frame`` starts afresh.
    """

    def __init__(self, retargeter: Retargeter, blinks: BlinkTrack | None = None) -> None:
        self.retargeter = retargeter
        self.blinks = blinks
        self._vowel_state: VowelState | None = None
        self._next_frame = -1

    @classmethod
    def for_voice(cls, voice: Any, blinks: bool = True, seed: int | None = 0, style: str | None = None,
                  path: str | None = None) -> AvatarStream:
        """Calibrated on ``voice`` (:func:`face_calibration`) for the stored ``style`` the landmarks are drawn in
        (an emotion name, as in :class:`~uniflg.types.SynthesisOptions`; None: the voice's default) and the
        speech ``path`` that draws them (e.g. ``live250``; None: the text path or the offline speech path), with
        seeded run-time blinks unless ``blinks`` is False."""
        if path is not None and path != "offline":
            voice.path_speakers(path)  # unknown: NotFoundError naming the paths (not the text path's calibration)
        fps = voice.stream_info().fps
        track = BlinkTrack(seed, fps) if blinks else None
        return cls(Retargeter(face_calibration(voice).for_style(style).for_path(path)), track)

    def weights(self, first_frame: int, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(first_frame, bool) or not isinstance(first_frame, int | np.integer) or first_frame < 0:
            raise InvalidInputError(f"first_frame must be a whole number >= 0; got {first_frame!r}")
        arkit = self.retargeter.arkit(landmarks)
        if self.blinks is not None and len(arkit):
            blink = self.blinks.weights(first_frame, len(arkit))
            for col in _BLINK_COLUMNS:
                arkit[:, col] = np.maximum(arkit[:, col], blink)
        state = self._vowel_state if first_frame == self._next_frame else None
        vowels, self._vowel_state = self.retargeter.vowels(landmarks, state)
        self._next_frame = first_frame + len(landmarks)
        return arkit, self.retargeter.vrm(landmarks, arkit, vowels)
