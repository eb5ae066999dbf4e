"""The held-out evaluation sentences: 20 Japanese and 20 English, one home for every measurement that reads them
(``uniflg eval-blendshapes``, ``uniflg eval speech-quality``) and for the corpus test that keeps them out of training;
and 40 English selection sentences for choosing among checkpoints (:data:`SELECTION_EN`), so that the held-out
figure a checkpoint is reported with was not also what chose it.

Held out: hand-written, not in the calibration texts (:data:`uniflg.avatar.CALIBRATION_TEXTS`), not drawn from the
procedural corpus's sentence templates, and not among the everyday English sentences of the ``kokoro-en`` corpus
source (:data:`uniflg_train.corpus.sentences_en.EVERYDAY`; ``tests/test_corpus_merge.py`` checks).
"""

from __future__ import annotations

HELD_OUT_JA: tuple[str, ...] = (
    "駅の前に新しいパン屋ができました。", "この本はとても面白かったです。", "明日の朝は早く起きなければなりません。",
    "窓を開けると冷たい風が入ってきた。", "彼女は毎日ピアノを練習しています。", "駐車場はどこにありますか？",
    "夏休みに家族で海へ行く予定です。", "その映画はもう見ましたか？", "雨が降りそうなので傘を持っていきます。",
    "私の趣味は写真を撮ることです。", "お茶とコーヒーのどちらが好きですか？", "昨日は遅くまで仕事をしていました。",
    "この道をまっすぐ行くと郵便局があります。", "週末に友達と山に登りました。", "新しい言葉を覚えるのは楽しいです。",
    "電車が少し遅れているようです。", "赤いりんごを三つください。", "子供たちが公園で元気に遊んでいる。",
    "会議は午後二時から始まります。", "夜空にたくさんの星が光っていた。",
)
HELD_OUT_EN: tuple[str, ...] = (
    "The weather is nice today.", "Would you like to go for a walk?", "She bought three red apples.",
    "The train is running a little late.", "Please open the window.", "We moved to a small town last year.",
    "How long does it take to get there?", "He plays the piano every evening.", "The meeting starts at two.",
    "I forgot my umbrella at home.", "Our team won the final game.", "Let me know when you arrive.",
    "The coffee shop opens early on Monday.", "They watched the stars all night.",
    "This book was really interesting.", "Turn left at the next corner.", "My sister likes to paint flowers.",
    "Could you speak a little more slowly?", "The children are playing outside.", "Thank you for your help.",
)

# For choosing a checkpoint (a validation set): hand-written like HELD_OUT_EN and held out from training the same
# way, but never a reported figure (``--english-sentences selection``).
SELECTION_EN: tuple[str, ...] = (
    "The bakery on the corner sells fresh bread.", "Did you remember to lock the door?", "He runs along the beach.",
    "Her brother fixed the old bicycle.", "We need more milk and eggs.", "The museum is closed on Tuesdays.",
    "Can you show me the way to the gym?", "The bus stop is across the street.", "I usually drink tea in the morning.",
    "The movie was longer than I expected.", "Please write your name on the list.", "The garden is full of roses.",
    "My grandfather tells funny stories.", "We had pizza for dinner last night.", "Where is the nearest pharmacy?",
    "The river was cold and clear.", "She found a coin under the sofa.", "The dog is sleeping by the fire.",
    "I will call you back in ten minutes.", "The library has a quiet reading room.",
    "Our neighbors are very friendly.", "The kitten chased a yellow ball.", "He wants to learn how to swim.",
    "The store sells shoes and hats.", "It snowed heavily during the night.", "Could you pass me the salt?",
    "The teacher smiled at the students.", "We planted two trees in the yard.", "The plane landed safely at noon.",
    "I like to read before I sleep.", "The doctor will see you now.", "They built a small wooden boat.",
    "Please turn off the lights.", "The market is busy on weekends.", "My cousin lives near the mountains.",
    "The cake smells wonderful.", "We walked home after the concert.", "The candle burned all evening.",
    "He painted the fence bright green.", "What time does the shop close?",
)
