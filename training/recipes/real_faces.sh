#!/usr/bin/env bash
# The embedded voice's faces and speech path (what sdk/uniflg/voices/default ships since issue 17), its speech kept:
# stage 2 retrained on the voice's stage 1 with the face generator's real-talker opening and visual lead
# (docs/corpus.md), held vowels, non-speech, Kokoro's natural Japanese voices timed by MAS with the voice's model
# (read with mei's row, as the runtime reads speech of people it never heard), augmentation of the speech path,
# and the posterior encoder fine-tuned towards the text path's latent (--tune-posterior, docs/training.md). Then
# export with the voice's latents, the avatars' face calibration and the live path distilled again. Every step
# resumes: rerun the script (or one stage). The base is the voice as it was before (stage `base` takes its files
# from git at BASE_COMMIT), so the recipe reproduces the shipped voice from the shipped voice's own history.
#
#   bash training/recipes/real_faces.sh                  # all stages
#   STAGE=landmarks bash training/recipes/real_faces.sh  # one stage: base|corpus|pair|landmarks|export|live|
#                                                        #   english-corpus|english|english-posterior|english-flow|
#                                                        #   english-native-corpus|english-native|english-pair|
#                                                        #   english-landmarks|english-export|english-live|eval|
#                                                        #   polish|polish-export|english-settle
#
# English (the english-* stages; STAGE=all runs them with ENGLISH_CHECKPOINT=STEP): stage 1 continues from the
# stage-2 checkpoint on HTS + Kokoro Japanese and Kokoro's jm_kumo reading English, reconstruction losses only, in
# three steps: the latent space frozen (english: posterior, flow, utterance encoder, z_u projection, the carried
# speaker rows), then the posterior learning (english-posterior), then the flow too (english-flow; why: each
# stage's comment), then Kokoro's American and British voices join (english-native-corpus, english-native: a
# native speaker's English is what pocketsphinx and listeners understand; jm_kumo's own reads at 10-16 % WER). The
# utterance encoder, z_u's projection and the carried rows stay frozen throughout, so the stored latents keep
# their meaning. Stage 2 is then trained again on that stage 1 with the English Kokoro items (jm_kumo's, and on the
# english-native route the native voices' too) timed by it and paired with mei's face (english-pair; the text path's English faces need English paired items), Kokoro's
# voices read as unknown speakers as before (english-landmarks), exported with the English speaker (english-export)
# and its live path distilled (english-live).
#
# Cost on a 2-core CPU: corpus ~25 min (Kokoro is the slow source, ~1.5-3.5 s per item); pair ~5 min; stage 2
# 875 steps ~25 min with one thread (the text path's inputs are cached after the first epoch); live distillation
# ~10 min (at most 30, a wall-clock budget); english-corpus ~20 min; english ~4,000 steps/h with one thread;
# english-native-corpus ~15-30 min (1,600 Kokoro items, 0.5-1.2 s each).
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA=${DATA:-data/faces}                           # what stage 2 reads (the parts below, merged)
MAIN_DATA=${MAIN_DATA:-data/faces-main}            # HTS, 4 speakers; only mei's items have faces
HELD_DATA=${HELD_DATA:-data/faces-held}            # HTS holding vowels, calling, laughing (mei's face)
NONSPEECH_DATA=${NONSPEECH_DATA:-data/faces-nonspeech}  # no words under a closed mouth
KOKORO_DATA=${KOKORO_DATA:-data/faces-kokoro}      # Kokoro's five Japanese voices (no timing)
KOKORO_PAIRED=${KOKORO_PAIRED:-data/faces-kokoro-paired}  # the same, timed by MAS, with mei's face
HTS_DATA=${HTS_DATA:-data/faces-hts}               # main + held + non-speech merged
RUNS=${RUNS:-runs/faces}
BASE_VOICE=${BASE_VOICE:-data/base-voice}           # whose stage 1 (and latents) the new voice keeps
BASE_COMMIT=${BASE_COMMIT:-735b2a7}                  # the default voice before this recipe replaced its faces
UTTERANCES=${UTTERANCES:-2000}
HELD_UTTERANCES=${HELD_UTTERANCES:-1200}
NONSPEECH_UTTERANCES=${NONSPEECH_UTTERANCES:-300}
KOKORO_UTTERANCES=${KOKORO_UTTERANCES:-700}
STAGE2_SPEAKERS=${STAGE2_SPEAKERS:-mei,kokoro_jf_alpha,kokoro_jf_gongitsune,kokoro_jf_nezumi,kokoro_jf_tebukuro,kokoro_jm_kumo}
LANDMARK_STEPS=${LANDMARK_STEPS:-875}             # the shipped checkpoint (docs/model-card.md: how it was chosen)
ENGLISH_DATA=${ENGLISH_DATA:-data/english}         # faces-main + faces-kokoro + the two below, merged
KOKORO_EN=${KOKORO_EN:-data/corpus-kokoro-en}      # Kokoro jm_kumo reading English (espeak-ng IPA), 800 items
KOKORO_EN2=${KOKORO_EN2:-data/corpus-kokoro-en2}   # the same, 1,200 more items (another seed)
KOKORO_FASTAPI=${KOKORO_FASTAPI:-}                 # a clone of github.com/remsky/Kokoro-FastAPI (Kokoro's English
                                                  # voices; docs/corpus.md), read by english-native-corpus
VOICE_PACK=${VOICE_PACK:-data/kokoro-voice-pack}   # those voices, checked (uniflg corpus voice-pack)
KOKORO_EN_NATIVE=${KOKORO_EN_NATIVE:-data/corpus-kokoro-en-native}  # eight native voices reading English, 1,600
NATIVE_DATA=${NATIVE_DATA:-data/english-native}    # $ENGLISH_DATA + the above, merged
# the pack's voices as speakers (kokoro_voice.native_english_voices(); tests/test_recipes.py checks they agree)
NATIVE_SPEAKERS=kokoro_af_heart,kokoro_am_michael,kokoro_af_sarah,kokoro_am_adam,kokoro_af_bella,kokoro_bm_george,\
kokoro_af_aoede,kokoro_am_fenrir
ENGLISH_RUN=${ENGLISH_RUN:-english-native}        # the English stage-1 run the English voice builds on (the two
                                                  # measured in docs/model-card.md built on english-flow)
ENGLISH_CHECKPOINT=${ENGLISH_CHECKPOINT:-}        # that run's step the English voice builds on (empty: none;
                                                  # STAGE=all then skips the English voice's stages)
if [ "${ENGLISH_RUN:-english-native}" = english-flow ]; then  # how far english-flow trains: to the voice's step,
  ENGLISH_STEPS=${ENGLISH_STEPS:-${ENGLISH_CHECKPOINT:-30000}}  # or (english-native) to where english-native starts
else
  ENGLISH_STEPS=${ENGLISH_STEPS:-6000}
fi
ENGLISH_SETTLE_FROM=${ENGLISH_SETTLE_FROM:-6000}  # english-native's step english-settle starts from
if [ "${ENGLISH_RUN:-english-native}" = english-settle ]; then  # english-native trains to where english-settle starts
  ENGLISH_NATIVE_STEPS=${ENGLISH_NATIVE_STEPS:-$ENGLISH_SETTLE_FROM}
else
  ENGLISH_NATIVE_STEPS=${ENGLISH_NATIVE_STEPS:-${ENGLISH_CHECKPOINT:-40000}}  # how far english-native trains
fi
ENGLISH_SETTLE_STEPS=${ENGLISH_SETTLE_STEPS:-${ENGLISH_CHECKPOINT:-40000}}  # how far english-settle trains
ENGLISH_FROZEN_STEPS=${ENGLISH_FROZEN_STEPS:-3000}  # where english-posterior starts from the english stage
ENGLISH_POST_STEPS=${ENGLISH_POST_STEPS:-3000}      # where english-flow starts from the english-posterior stage
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-125}
JOBS=${JOBS:-2}
ENGLISH_THREADS=${ENGLISH_THREADS:-1}  # torch threads of the English stages (free to change on resume)
POLISH_STEPS=${POLISH_STEPS:-20000}              # how far polish trains (POLISH_CHECKPOINT: what polish-export takes)
POLISH_CHECKPOINT=${POLISH_CHECKPOINT:-}
POLISH_RUN=${POLISH_RUN:-polish-warm}              # session 12's run without the warm-up, at lr 2e-4: polish
VOICE_OUT=${VOICE_OUT:-$RUNS/voice}                # copy over sdk/uniflg/voices/default once it beats it
STAGE=${STAGE:-all}
UNIFLG=${UNIFLG:-.venv/bin/uniflg}
PY=${PY:-.venv/bin/python}

run() { [ "$STAGE" = all ] || [ "$STAGE" = "$1" ]; }
if [ -n "$ENGLISH_CHECKPOINT" ] && ! [[ "$ENGLISH_CHECKPOINT" =~ ^[1-9][0-9]*$ ]]; then
  echo "ENGLISH_CHECKPOINT=$ENGLISH_CHECKPOINT is not a step: a whole number above 0 (a checkpoint of" \
       "ENGLISH_RUN=$ENGLISH_RUN)" >&2
  exit 2
fi
case "$STAGE" in english-pair|english-landmarks|english-export|english-live)
  if [ -z "$ENGLISH_CHECKPOINT" ]; then
    echo "STAGE=$STAGE needs ENGLISH_CHECKPOINT=STEP (the step of ENGLISH_RUN=$ENGLISH_RUN the English voice" \
         "builds on)" >&2
    exit 2
  fi ;;
esac
run_english() { [ "$STAGE" = "$1" ] || { [ "$STAGE" = all ] && [ -n "$ENGLISH_CHECKPOINT" ]; }; }
# STAGE=all skips the native stages when the voice builds on english-flow
run_native() { [ "$STAGE" = "$1" ] || { run_english "$1" && [ "$ENGLISH_RUN" != english-flow ]; }; }
run_settle() { [ "$STAGE" = "$1" ] || { run_english "$1" && [ "$ENGLISH_RUN" = english-settle ]; }; }
case "$ENGLISH_RUN" in english-flow|english-native|english-settle) ;;
  *) echo "ENGLISH_RUN=$ENGLISH_RUN: choose english-native (the default), english-settle or english-flow" >&2
     exit 2 ;;
esac
case "$STAGE" in
  all|base|corpus|pair|landmarks|export|live|english-corpus|english|english-posterior|english-flow) ;;
  english-native-corpus|english-native|english-settle|polish|polish-export) ;;
  english-pair|english-landmarks|english-export|english-live|eval) ;;
  *) echo "STAGE=$STAGE is not a stage of this recipe: all, base, corpus, pair, landmarks, export, live," \
          "english-corpus, english, english-posterior, english-flow, english-native-corpus, english-native," \
          "english-settle, english-pair, english-landmarks, english-export, polish, polish-export," \
          "english-live or eval" >&2
     exit 2 ;;
esac

if run base; then
  mkdir -p "$BASE_VOICE"
  for f in model.safetensors voice.json; do
    if ! git show "$BASE_COMMIT:sdk/uniflg/voices/default/$f" > "$BASE_VOICE/$f.tmp"; then
      rm -f "$BASE_VOICE/$f.tmp"
      echo "cannot read $f at $BASE_COMMIT: the recipe needs a git clone with that commit (not a shallow clone)" >&2
      exit 1
    fi
    mv "$BASE_VOICE/$f.tmp" "$BASE_VOICE/$f"
  done
fi
if run corpus; then
  "$UNIFLG" corpus make --out "$MAIN_DATA" --utterances "$UTTERANCES" --seed 2027 --jobs "$JOBS" --sources hts \
    --paired-fraction 1.0 --paired-speakers mei --nonspeech-fraction 0.25
  "$UNIFLG" corpus make --out "$HELD_DATA" --utterances "$HELD_UTTERANCES" --seed 2030 --jobs "$JOBS" \
    --sources hts-held --paired-fraction 1.0 --paired-speakers mei
  "$UNIFLG" corpus make --out "$NONSPEECH_DATA" --utterances "$NONSPEECH_UTTERANCES" --seed 2029 --jobs "$JOBS" \
    --sources nonspeech --paired-speakers mei
  "$UNIFLG" corpus make --out "$KOKORO_DATA" --utterances "$KOKORO_UTTERANCES" --seed 2031 --jobs 1 --sources kokoro
  "$UNIFLG" corpus merge "$MAIN_DATA" "$HELD_DATA" "$NONSPEECH_DATA" --out "$HTS_DATA"
fi
if run pair; then
  "$UNIFLG" corpus pair "$KOKORO_DATA" --model "$BASE_VOICE/model.safetensors" --out "$KOKORO_PAIRED" --face mei \
    --unknown-speakers-as mei
  "$UNIFLG" corpus merge "$HTS_DATA" "$KOKORO_PAIRED" --out "$DATA"
  "$UNIFLG" preprocess --data "$DATA" --jobs "$JOBS"
fi
if run landmarks; then
  "$UNIFLG" train landmarks --data "$DATA" --vits "$BASE_VOICE/model.safetensors" --out "$RUNS/uniflg" \
    --steps "$LANDMARK_STEPS" --batch-size 16 --checkpoint-every "$CHECKPOINT_EVERY" --threads 1 \
    --learning-rate 1e-3 --latent-noise-scale 0 --posterior-noise-scale 0 --paired-speakers "$STAGE2_SPEAKERS" \
    --unknown-speakers-as mei --augment --augment-noise color,babble,music,band --tune-posterior
fi
if run_english english-corpus; then
  "$UNIFLG" corpus make --out "$KOKORO_EN" --utterances 800 --seed 2028 --jobs 1 --sources kokoro-en
  "$UNIFLG" corpus make --out "$KOKORO_EN2" --utterances 1200 --seed 2032 --jobs 1 --sources kokoro-en
  "$UNIFLG" corpus merge "$MAIN_DATA" "$KOKORO_DATA" "$KOKORO_EN" "$KOKORO_EN2" --out "$ENGLISH_DATA"
  "$UNIFLG" preprocess --data "$ENGLISH_DATA" --jobs "$JOBS"
fi
if run_english english; then
  stage2=$RUNS/uniflg/checkpoints/$(printf 'step_%08d' "$LANDMARK_STEPS")
  [ -d "$stage2" ] || { echo "no stage-2 checkpoint $stage2: run STAGE=landmarks first" >&2; exit 1; }
  "$UNIFLG" train vits --data "$ENGLISH_DATA" --out "$RUNS/english" --config small --steps "$ENGLISH_FROZEN_STEPS" \
    --batch-size 8 --checkpoint-every 500 --keep-last 60 --threads "$ENGLISH_THREADS" --init-from "$stage2" \
    --freeze posterior,flow,utterance,u_projection,g_embedding --adversarial-start 1000000000 --learning-rate 1e-3
fi
# The frozen (stage-2-tuned) posterior held the English reconstruction at 82-84 % WER: this stage lets the
# posterior learn too (flow, utterance encoder, z_u's projection and the carried rows stay frozen), from the english
# stage's step ENGLISH_FROZEN_STEPS.
if run_english english-posterior; then
  "$UNIFLG" train vits --data "$ENGLISH_DATA" --out "$RUNS/english-post" --config small \
    --steps "$ENGLISH_POST_STEPS" \
    --batch-size 8 --checkpoint-every 500 --keep-last 60 --threads "$ENGLISH_THREADS" \
    --init-from "$RUNS/english/checkpoints/$(printf 'step_%08d' "$ENGLISH_FROZEN_STEPS")" \
    --freeze flow,utterance,u_projection,g_embedding --adversarial-start 1000000000 --learning-rate 1e-3
fi
# With the flow frozen, even a perfect prior cannot speak English: the posterior's own f(z) averaged over each
# token's MAS span (about the best a per-token prior can give) and inverted through the frozen flow reads at 84 %
# WER against 47 % for the reconstruction (`uniflg eval text-ceiling`, 20 held-out sentences, english-posterior
# step 2,909), and the trained prior with MAS durations reads at 93 %. So the flow learns too, from english-posterior's step ENGLISH_POST_STEPS; the latent
# space moves, and the landmark decoder (stage 2) is then trained again on this stage 1 (docs/model-card.md).
if run_english english-flow; then
  "$UNIFLG" train vits --data "$ENGLISH_DATA" --out "$RUNS/english-flow" --config small --steps "$ENGLISH_STEPS" \
    --batch-size 8 --checkpoint-every 500 --keep-last 60 --threads "$ENGLISH_THREADS" \
    --init-from "$RUNS/english-post/checkpoints/$(printf 'step_%08d' "$ENGLISH_POST_STEPS")" \
    --freeze utterance,u_projection,g_embedding --adversarial-start 1000000000 --learning-rate 1e-3
fi
# Kokoro's native English voices (eight, four women and four men, 0-10 % WER against jm_kumo's 10-16 %) join the
# data, each a new speaker row; the rest continues from english-flow's step ENGLISH_STEPS as it was.
if run_native english-native-corpus; then
  # the pack is (re)built from KOKORO_FASTAPI when given (2 s); corpus make checks every voice of it either way
  if [ -n "$KOKORO_FASTAPI" ]; then
    "$UNIFLG" corpus voice-pack --source "$KOKORO_FASTAPI" --out "$VOICE_PACK"
  elif [ ! -d "$VOICE_PACK" ]; then
    echo "no voice pack in $VOICE_PACK: set KOKORO_FASTAPI to a clone of https://github.com/remsky/Kokoro-FastAPI" \
      "(docs/corpus.md)" >&2
    exit 1
  fi
  "$UNIFLG" corpus make --out "$KOKORO_EN_NATIVE" --utterances 1600 --seed 2033 --jobs 1 \
    --sources kokoro-en-native --voice-pack "$VOICE_PACK"
  "$UNIFLG" corpus merge "$ENGLISH_DATA" "$KOKORO_EN_NATIVE" --out "$NATIVE_DATA"
  "$UNIFLG" preprocess --data "$NATIVE_DATA" --jobs "$JOBS"
fi
if run_native english-native; then
  "$UNIFLG" train vits --data "$NATIVE_DATA" --out "$RUNS/english-native" --config small \
    --steps "$ENGLISH_NATIVE_STEPS" --batch-size 8 --checkpoint-every 500 --keep-last 80 --threads "$ENGLISH_THREADS" \
    --init-from "$RUNS/english-flow/checkpoints/$(printf 'step_%08d' "$ENGLISH_STEPS")" \
    --freeze utterance,u_projection,g_embedding --adversarial-start 1000000000 --learning-rate 1e-3
fi
# english-settle (the route ENGLISH_RUN=english-settle): english-native at batch 8 and lr 1e-3 swings from checkpoint
# to checkpoint (end-to-end WER 64-79 % between steps 4,500 and 6,000, docs/model-card.md); this continues its step
# ENGLISH_SETTLE_FROM at a fifth of the rate, VITS's 2e-4, with the same data and frozen modules.
if run_settle english-settle; then
  "$UNIFLG" train vits --data "$NATIVE_DATA" --out "$RUNS/english-settle" --config small \
    --steps "$ENGLISH_SETTLE_STEPS" --batch-size 8 --checkpoint-every 500 --keep-last 80 --threads "$ENGLISH_THREADS" \
    --init-from "$RUNS/english-native/checkpoints/$(printf 'step_%08d' "$ENGLISH_SETTLE_FROM")" \
    --freeze utterance,u_projection,g_embedding --adversarial-start 1000000000 --learning-rate 2e-4
fi
# polish (not in STAGE=all): the waveform decoder alone trained adversarially, as VITS trains it (multi-period and
# multi-scale discriminators with feature matching, beside the mel loss), on the HTS items; every other module
# frozen, so text timing, latents, faces, the speech path and the live path stay bit for bit and only the speech's
# sound changes. The discriminators start fresh against a decoder that never met them: they learn alone for 500
# steps first, and the rate is half VITS's from-scratch 2e-4 (without either, session 12's run lost DNSMOS from the
# first checkpoint on). polish-export writes the voice with that decoder (--live-from checks the rest is the voice's).
if [ "$STAGE" = polish ]; then
  "$UNIFLG" train vits --data "$HTS_DATA" --out "$RUNS/$POLISH_RUN" --config small --steps "$POLISH_STEPS" \
    --batch-size 8 --checkpoint-every 250 --keep-last 80 --threads 1 \
    --init-from "$RUNS/uniflg/checkpoints/$(printf 'step_%08d' "$LANDMARK_STEPS")" \
    --freeze text_encoder,posterior,flow,duration,utterance,u_projection,g_embedding --adversarial-start 0 \
    --discriminator-warmup 500 --learning-rate 1e-4
fi
if [ "$STAGE" = polish-export ]; then
  [[ "$POLISH_CHECKPOINT" =~ ^[1-9][0-9]*$ ]] || { echo "STAGE=polish-export needs POLISH_CHECKPOINT=STEP (a step" \
    "of $RUNS/$POLISH_RUN)" >&2; exit 2; }
  [ -f "$RUNS/latents.json" ] || { echo "no $RUNS/latents.json: run STAGE=export first (it writes it)" >&2; exit 1; }
  polished=$RUNS/voice-$POLISH_RUN-$POLISH_CHECKPOINT  # VOICE_OUT: the voice whose live path and faces it keeps
  "$UNIFLG" export --format onnx --checkpoint "$RUNS/$POLISH_RUN/checkpoints/$(printf 'step_%08d' "$POLISH_CHECKPOINT")" \
    -o "$polished" --name default --half-weights --latents "$RUNS/latents.json" --live-from "$VOICE_OUT"
  "$UNIFLG" calibrate-face --voice "$polished"
fi
if run export; then
  "$PY" -c "import json, sys; json.dump(json.load(open(sys.argv[1]))['latents'], open(sys.argv[2], 'w'))" \
    "$BASE_VOICE/voice.json" "$RUNS/latents.json"
  "$UNIFLG" export --format onnx --checkpoint "$RUNS/uniflg/checkpoints" -o "$VOICE_OUT" --name default \
    --half-weights --latents "$RUNS/latents.json"
  "$UNIFLG" calibrate-face --voice "$VOICE_OUT"
fi
if run live; then  # the live path is distilled from the voice it ships in (docs/training.md)
  "$PY" -m uniflg_train.live train --corpus "$DATA" --voice "$VOICE_OUT" --out "$RUNS/live250" \
    --lookahead-ms 250 --minutes "${LIVE_MINUTES:-30}" --threads 1 --limit 480
  "$PY" -m uniflg_train.live export --run "$RUNS/live250" --voice "$VOICE_OUT" --out "$VOICE_OUT" --name live250
  "$PY" -m uniflg_train.live evaluate --corpus "$DATA" --voice "$VOICE_OUT" --limit 24
fi
# The English voice: stage 2 again on ENGLISH_RUN's step ENGLISH_CHECKPOINT (the settings of stage `landmarks`;
# its data plus the English Kokoro items timed by that model with mei's face; every Kokoro voice, which that stage 1
# has rows for, still read with mei's row), exported with ENGLISH_SPEAKER reading English, the face calibration
# and the live path distilled from it.
FINAL_VOICE=$VOICE_OUT
FINAL_RUN=$RUNS/uniflg
if [ "$ENGLISH_RUN" = english-flow ]; then
  ENGLISH_TAG=english-$ENGLISH_CHECKPOINT
  ENGLISH_SPEAKER=${ENGLISH_SPEAKER:-kokoro_jm_kumo}
  ENGLISH_CORPORA=$KOKORO_EN
  ENGLISH_STAGE2_SPEAKERS=$STAGE2_SPEAKERS
else
  ENGLISH_TAG=${ENGLISH_RUN#english-}-$ENGLISH_CHECKPOINT
  ENGLISH_SPEAKER=${ENGLISH_SPEAKER:-kokoro_af_heart}
  ENGLISH_CORPORA="$KOKORO_EN $KOKORO_EN_NATIVE"
  ENGLISH_STAGE2_SPEAKERS=$STAGE2_SPEAKERS,$NATIVE_SPEAKERS
fi
if [ -n "$ENGLISH_CHECKPOINT" ]; then  # named by run and step, so another never resumes this one
  FINAL_VOICE=$VOICE_OUT-$ENGLISH_TAG
  FINAL_RUN=$RUNS/uniflg-$ENGLISH_TAG
fi
ENGLISH_MODEL=$RUNS/$ENGLISH_RUN/checkpoints/$(printf 'step_%08d' "${ENGLISH_CHECKPOINT:-0}")
ENGLISH_FACES=data/faces-$ENGLISH_TAG  # $DATA + the English items timed with mei's face: what the voice reads
if run_english english-pair; then
  paired=()
  for corpus in $ENGLISH_CORPORA; do
    name=$(basename "$corpus")
    out=data/faces-${name#corpus-}-paired-${ENGLISH_TAG#english-}  # e.g. data/faces-kokoro-en-paired-2500
    "$UNIFLG" corpus pair "$corpus" --out "$out" --face mei --model "$ENGLISH_MODEL"
    paired+=("$out")
  done
  "$UNIFLG" corpus merge "$DATA" "${paired[@]}" --out "$ENGLISH_FACES"
  "$UNIFLG" preprocess --data "$ENGLISH_FACES" --jobs "$JOBS"
fi
if run_english english-landmarks; then
  # Kokoro's voices (every stage-2 speaker but the stand-in) are read as unknown speech, as in stage `landmarks`
  as_unknown=$(tr ',' '\n' <<< "$ENGLISH_STAGE2_SPEAKERS" | grep -vx mei | paste -sd, -)
  "$UNIFLG" train landmarks --data "$ENGLISH_FACES" --vits "$ENGLISH_MODEL" --out "$FINAL_RUN" \
    --steps "$LANDMARK_STEPS" --batch-size 16 --checkpoint-every "$CHECKPOINT_EVERY" --threads 1 \
    --learning-rate 1e-3 --latent-noise-scale 0 --posterior-noise-scale 0 \
    --paired-speakers "$ENGLISH_STAGE2_SPEAKERS" --unknown-speakers-as mei --read-as-unknown "$as_unknown" \
    --augment --augment-noise color,babble,music,band --tune-posterior
fi
if run_english english-export; then
  [ -f "$RUNS/latents.json" ] || { echo "no $RUNS/latents.json: run STAGE=export first (it writes it)" >&2; exit 1; }
  "$UNIFLG" export --format onnx --checkpoint "$FINAL_RUN/checkpoints/$(printf 'step_%08d' "$LANDMARK_STEPS")" \
    -o "$FINAL_VOICE" --name default --half-weights --latents "$RUNS/latents.json" \
    --language-speaker "en=$ENGLISH_SPEAKER"
  "$UNIFLG" calibrate-face --voice "$FINAL_VOICE"
fi
if run_english english-live; then
  live_run=$RUNS/live250-$ENGLISH_TAG
  "$PY" -m uniflg_train.live train --corpus "$ENGLISH_FACES" --voice "$FINAL_VOICE" --out "$live_run" \
    --lookahead-ms 250 --minutes "${LIVE_MINUTES:-30}" --threads 1 --limit 480
  "$PY" -m uniflg_train.live export --run "$live_run" --voice "$FINAL_VOICE" --out "$FINAL_VOICE" \
    --name live250
  "$PY" -m uniflg_train.live evaluate --corpus "$ENGLISH_FACES" --voice "$FINAL_VOICE" --limit 24
fi
if run eval; then
  # the checkpoint the voice was exported from, not whatever the run trained to after it
  "$UNIFLG" eval --data "$DATA" --run "$FINAL_RUN/checkpoints/$(printf 'step_%08d' "$LANDMARK_STEPS")" \
    --limit "${EVAL_ITEMS:-40}" --json \
    --out "$RUNS/eval.json" --report "$RUNS/report.md"
  if [ -d "${DEVSET:-/work/devset/real-av}" ]; then
    "$UNIFLG" eval robustness "${DEVSET:-/work/devset/real-av}" --voice "$FINAL_VOICE" --out "$RUNS/robustness.md"
  fi
  # the real-people sets (docs/evaluation.md): real-av (3 clips) and more (19 clips)
  for set in ${DEVSETS:-/work/devset/real-av /work/devset/more}; do
    if [ -d "$set" ]; then
      "$UNIFLG" eval real-av "$set" --voice "$FINAL_VOICE" --out "$RUNS/real-av-$(basename "$set").json"
    fi
  done
  "$UNIFLG" eval-blendshapes --voice "$FINAL_VOICE" > "$RUNS/blendshapes.md"
fi
