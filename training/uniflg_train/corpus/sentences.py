"""A small Japanese grammar that writes varied sentences, deterministic for a given generator.

Word lists are chosen for phoneme coverage: every Open JTalk consonant (palatalized ones, ``ts``, ``f``,
``v``, ``dy``/``ty``/``my`` in loanwords), geminates (``cl``), the moraic nasal, long vowels and devoiced vowels
all occur; about 40 % of the sentences are questions (interrogative flag) and many have commas
(pauses).
"""

from __future__ import annotations

import numpy as np

TIMES = ("今日", "明日", "昨日", "毎朝", "今晩", "週末", "来月", "去年", "夕方", "三時ごろ", "お昼休み",
         "日曜日", "夏休み", "さっき", "来週の月曜日", "八時半", "先週", "毎晩")
SUBJECTS = ("私", "彼", "彼女", "先生", "友達", "妹", "兄", "田中さん", "山本さん", "子供たち", "祖父",
            "店員さん", "隣の人", "僕", "お客さん", "ぴょん吉", "社長", "みんな", "チョコちゃん", "ボブ")
PLACES = ("駅", "公園", "図書館", "学校", "病院", "東京", "京都", "大阪", "北海道", "海辺", "喫茶店",
          "美術館", "八百屋", "郵便局", "会社", "空港", "神社", "体育館", "映画館", "百貨店", "ファミレス",
          "デパート", "スーパー", "ビーチ", "プール", "ディズニーランド", "旅館", "牧場", "ミャンマー",
          "ミュージカル劇場")
# verb stem forms: (polite past, polite invitation stem, te-form) and the objects that fit.
VERBS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("食べました", "食べ", "食べて", ("パン", "ぶどう", "寿司", "野菜", "魚", "ピザ", "牛丼", "チョコレート",
                                   "お菓子", "りんご", "ハンバーグ", "焼き鳥", "おにぎり", "ケーキ")),
    ("飲みました", "飲み", "飲んで", ("牛乳", "お茶", "コーヒー", "ジュース", "水", "紅茶", "ビール")),
    ("読みました", "読み", "読んで", ("本", "新聞", "手紙", "雑誌", "漫画", "小説", "メッセージ")),
    ("買いました", "買い", "買って", ("切符", "帽子", "傘", "眼鏡", "靴", "鞄", "時計", "花", "ペン", "ギター",
                                   "フォーク", "シャツ", "自転車", "ヴァイオリン", "ティーカップ")),
    ("撮りました", "撮り", "撮って", ("写真", "動画", "景色", "夕日")),
    ("弾きました", "弾き", "弾いて", ("ピアノ", "ギター", "ヴァイオリン", "曲", "テューバ", "デュエット")),
    ("作りました", "作り", "作って", ("料理", "弁当", "カレー", "人形", "プログラム", "お守り")),
    ("探しました", "探し", "探して", ("鍵", "財布", "地図", "猫", "犬", "切手", "ボタン")),
    ("見ました", "見", "見て", ("映画", "花火", "富士山", "ニュース", "夢", "パレード", "雪景色")),
    ("洗いました", "洗い", "洗って", ("茶碗", "服", "車", "窓", "靴下")),
    ("借りました", "借り", "借りて", ("辞書", "傘", "ノート", "ボール", "自転車")),
    ("習いました", "習い", "習って", ("書道", "ピアノ", "柔道", "中国語", "ダンス", "茶道")),
)
MOTIONS = ("行きました", "来ました", "帰りました", "出かけました", "走って行きました", "急いで向かいました")
NOUNS = ("猫", "犬", "花", "空", "海", "山", "川", "雪", "星", "月", "部屋", "庭", "机", "窓", "鞄", "車",
         "電車", "ケーキ", "ピアノ", "パソコン", "ホテル", "チーム", "パーティー", "コンサート", "百円玉", "町",
         "景色", "着物", "絵", "歌", "映画", "問題", "病気", "天気", "ぬいぐるみ", "ぶどう畑", "お祭り", "ふくろう",
         "脈", "ウェディングドレス")
ADJ_I = ("美しい", "新しい", "古い", "大きい", "小さい", "暑い", "寒い", "楽しい", "難しい", "優しい",
         "早い", "遅い", "高い", "安い", "美味しい", "面白い", "眠い", "嬉しい", "悲しい", "珍しい", "可愛い",
         "すごい", "ひどい", "明るい", "暗い", "広い", "狭い", "懐かしい")
ADJ_NA = ("静か", "綺麗", "有名", "便利", "元気", "大切", "簡単", "賑やか", "素敵", "不思議", "丈夫", "暇")
WEATHER = ("晴れ", "雨", "雪", "曇り", "台風", "快晴")
COUNTED = ("一つ", "二本", "三枚", "四冊", "五百円", "六匹", "七杯", "八個", "九人", "十分", "百本")
INTERJECTIONS = ("ああ", "ええと", "はい", "いいえ", "すみません", "ねえ", "あのう", "ほら", "もちろん",
                 "やった", "そうですね", "ふうん", "じゃあ", "ちょっと待って")
ENDINGS_Q = ("ですか", "でしょうか", "ではありませんか", "ですよね")


def _pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return items[int(rng.integers(len(items)))]


def _clause(rng: np.random.Generator) -> tuple[str, bool]:
    """One clause and whether it is a question."""
    kind = int(rng.integers(12))
    past, stem, _te, objects = VERBS[int(rng.integers(len(VERBS)))]
    obj = _pick(rng, objects)
    t, s, p = _pick(rng, TIMES), _pick(rng, SUBJECTS), _pick(rng, PLACES)
    if kind == 0:
        return f"{t}、{s}は{p}で{obj}を{past}", False
    if kind == 1:
        return f"{s}は{t}{p}へ{_pick(rng, MOTIONS)}", False
    if kind == 2:
        return f"{t}、一緒に{p}で{obj}を{stem}ませんか", True
    if kind == 3:
        return f"この{_pick(rng, NOUNS)}はとても{_pick(rng, ADJ_I)}です", False
    if kind == 4:
        return f"{s}は{_pick(rng, ADJ_NA)}な{_pick(rng, NOUNS)}が好きです", False
    if kind == 5:
        return f"{obj}はどこにありますか", True
    if kind == 6:
        return f"{t}の{p}は{_pick(rng, WEATHER)}でしょう", False
    if kind == 7:
        return f"{s}が{obj}を{_te}くれました", False
    if kind == 8:
        return f"その{_pick(rng, NOUNS)}は本当に{_pick(rng, ADJ_I)}{_pick(rng, ENDINGS_Q)}", True
    if kind == 9:
        return f"{obj}を{_pick(rng, COUNTED)}{past}", False
    if kind == 10:
        return f"もし{t}が{_pick(rng, WEATHER)}なら、{p}で{obj}を{stem}ましょう", False
    return f"{s}はなぜ{p}に{_pick(rng, MOTIONS)}か", True


def make_sentence(rng: np.random.Generator) -> str:
    """One sentence: an optional interjection, one or two clauses, a final 。 ？ or ！."""
    parts: list[str] = []
    if rng.random() < 0.2:
        parts.append(_pick(rng, INTERJECTIONS) + "、")
    clause, question = _clause(rng)
    if not question and rng.random() < 0.3:
        second, question = _clause(rng)
        clause = f"{clause}が、{second}" if not clause.endswith("か") else clause
    parts.append(clause)
    end = "？" if question else ("！" if rng.random() < 0.15 else "。")
    return "".join(parts) + end


# What people do and read sentences lack: vowels held for a second or more (calls, surprise, thinking, singing)
# and laughter. A voice trained only on read sentences closes the mouth on a held "aaah" (it resembles the hum
# and chords of the non-speech items); these give the held vowel its open mouth. "ー" lengthens the vowel before
# it by one mora in Open JTalk, so a run of them holds it.
CALLS = ("あ", "わあ", "おお", "ええ", "いや", "うん", "はあ", "ほう", "へえ", "まあ", "おい", "ねえ", "やった",
         "すご", "よし", "あれ", "そう", "ああ", "おや", "うわあ")
STRETCHED = ("すごーい", "ながーい", "とーっても", "おいしーい", "たのしーい", "おーきい", "まってー", "おはよーう",
             "ありがとーう", "もしもーし", "いーえ", "ほんとーに")
LAUGHS = ("あはははは", "えへへへ", "ふふふふ", "あはは", "わははは", "いひひひ", "おほほほ")
SUNG = ("ら", "あ", "る", "の", "ま", "お", "え", "い", "う")


# What chat and live talk are full of and read sentences never are: an utterance that is one short word, often one
# or two morae ("え？", "うん。"). A voice whose duration predictor met none gave a lone vowel one frame on some seeds:
# silence (え？ on 3 of 16 seeds with the shipped voice).
SHORT = ("あ", "え", "お", "う", "ん", "あっ", "えっ", "おっ", "ああ", "ええ", "おお", "うん", "ううん", "はい", "いえ",
         "いや", "へえ", "ほう", "はあ", "まあ", "ねえ", "よし", "あれ", "そう", "ほら", "おい", "やあ", "わあ", "うわ",
         "どう", "なに", "だれ", "どこ", "いつ", "ほんと", "まじ", "うそ", "やった", "すごい", "だめ", "いい", "また",
         "じゃあ", "おはよう", "おやすみ", "ありがとう", "ごめん", "なるほど", "えっと", "あのう")


def make_short_sentence(rng: np.random.Generator) -> str:
    """One short word said alone: a vowel, a call, a reply, a question word (:data:`SHORT`), ended by 。, ！, ？ or
    nothing."""
    return _pick(rng, SHORT) + ("。", "！", "？", "")[int(rng.integers(4))]


def _held(rng: np.random.Generator, base: str, most: int = 14) -> str:
    """``base`` with its last vowel held 3 to ``most`` more morae (about 0.07-0.14 s each in the HTS voice)."""
    return base + "ー" * int(rng.integers(3, most + 1))


def make_held_sentence(rng: np.random.Generator) -> str:
    """A sentence with held vowels or laughter: a stretched call, word, sung syllables or a laugh, alone or
    before one of :func:`make_sentence`'s clauses."""
    kind = int(rng.integers(4))
    if kind == 0:
        head = _held(rng, _pick(rng, CALLS))
    elif kind == 1:
        word = _pick(rng, STRETCHED)
        head = word.replace("ー", "ー" * int(rng.integers(3, 10)), 1)
    elif kind == 2:
        head = "".join(_held(rng, _pick(rng, SUNG), 8) for _ in range(int(rng.integers(2, 5))))
    else:
        head = _pick(rng, LAUGHS)
    if rng.random() < 0.5:
        return head + ("！" if rng.random() < 0.5 else "。")
    clause, question = _clause(rng)
    return f"{head}、{clause}{'？' if question else '。'}"
