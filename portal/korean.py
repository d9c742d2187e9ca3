"""Korean particles chosen by the last syllable of the word they follow.

A Korean particle has two forms: one after a syllable with a final consonant (받침) and one
after a syllable without (이/가, 은/는, 을/를, 과/와, 아/야), and 으로/로 where a final ㄹ counts as
none. ``particle(word, "이/가")`` joins a word and the right form; ``particles(text)``
resolves the neutral markers a Korean translation writes after a placeholder
("%(org)s은(는)", "%(number)s(으)로") once the placeholder has been filled in.

The last sound is read from the last Hangul syllable; digits and Latin letters are read
the Korean way (1 일, 3 삼, 10 십, 100 백; L 엘, M 엠, N 엔, R 알; "Lab" 랩, "Tech" 테크).
Closing quotes and brackets after a word are skipped. A word whose sound cannot be
told (a symbol) gets the neutral "이(가)" form, which is always readable.
"""

from __future__ import annotations

import re

NONE, RIEUL, OTHER = "none", "rieul", "other"  # no final consonant, final ㄹ, any other final consonant

# Final consonant of the Korean reading of the last digit (0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔, 9 구).
_DIGIT = {"0": OTHER, "1": RIEUL, "2": NONE, "3": OTHER, "4": NONE, "5": NONE, "6": OTHER, "7": RIEUL, "8": RIEUL, "9": NONE}  # fmt: skip
# A number ending in zeros is read by its last unit: 십 (10), 백 (100), 천 (1000), 만 (10 000 … ).
_ZEROS = {1: OTHER, 2: OTHER, 3: OTHER}
# Letters spelled out (acronyms, single letters): only L 엘, M 엠, N 엔 and R 알 end in a consonant.
_LETTER = {"l": RIEUL, "r": RIEUL, "m": OTHER, "n": OTHER}
_TRAILING = " \t\"'”’」』)]}>»›.,;:!?"
_VOWELS = set("aeiou")

# Particle pairs: (form after a final consonant, form after none).
_PAIRS = {
    "이/가": ("이", "가"),
    "은/는": ("은", "는"),
    "을/를": ("을", "를"),
    "과/와": ("과", "와"),
    "아/야": ("아", "야"),
    "이나/나": ("이나", "나"),
    "이라/라": ("이라", "라"),
    "으로/로": ("으로", "로"),
}
for _key, _forms in list(_PAIRS.items()):
    _PAIRS["/".join(reversed(_key.split("/")))] = _forms  # "가/이" works as "이/가"

# Neutral markers in translations → their pair.
_MARKERS = {
    "이(가)": "이/가", "가(이)": "이/가", "은(는)": "은/는", "는(은)": "은/는", "을(를)": "을/를", "를(을)": "을/를",
    "과(와)": "과/와", "와(과)": "과/와", "(이)나": "이나/나", "(이)라": "이라/라", "(으)로": "으로/로",
}  # fmt: skip
_MARKER_RE = re.compile("|".join(re.escape(m) for m in sorted(_MARKERS, key=len, reverse=True)))


def final_sound(word: str) -> str | None:
    """NONE, RIEUL or OTHER for the word's last sound; None when it cannot be told."""
    text = str(word).rstrip(_TRAILING)
    if not text:
        return None
    last = text[-1]
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        final = code % 28
        return NONE if final == 0 else RIEUL if final == 8 else OTHER
    if last.isdigit() and last.isascii():
        digits = re.search(r"[0-9]+$", text).group()
        stripped = digits.rstrip("0")
        if not stripped:
            return OTHER  # 영
        zeros = len(digits) - len(stripped)
        return _ZEROS.get(zeros, OTHER) if zeros else _DIGIT[last]
    if last.isascii() and last.isalpha():
        letters = re.search(r"[A-Za-z]+$", text).group()
        if len(letters) == 1 or letters.isupper():
            return _LETTER.get(last.lower(), NONE)  # spelled out: AI 에이아이, LLM 엘엘엠
        lower = letters.lower()
        if lower.endswith("l"):
            return RIEUL  # Seoul 서울, Model 모델
        if lower.endswith(("m", "n", "ng")):
            return OTHER  # Team 팀, Brain 브레인
        if lower[-1] in "bkpt" or lower.endswith("ck"):
            # a stop after a vowel closes the syllable (Lab 랩, Book 북, Bit 빗); after a consonant it
            # is a syllable of its own (Soft 소프트, Camp 캠프)
            before = lower[-3] if lower.endswith("ck") and len(lower) > 2 else (lower[-2] if len(lower) > 1 else "")
            return OTHER if before in _VOWELS else NONE
        return NONE  # Tech 테크, Data 데이터, Center 센터
    return None


def choose(word: str, pair: str) -> str:
    """The form of ``pair`` ("이/가", "으로/로", …) that follows ``word``."""
    with_final, without = _PAIRS[pair]
    sound = final_sound(word)
    if sound is None:
        return f"{with_final}({without})" if pair != "으로/로" else "(으)로"
    if pair in ("으로/로", "로/으로"):
        return with_final if sound == OTHER else without
    return with_final if sound in (OTHER, RIEUL) else without


def particle(word, pair: str) -> str:
    """``word`` followed by the right form of ``pair``: particle("한빛인공지능", "과/와") → "한빛인공지능과"."""
    return f"{word}{choose(str(word), pair)}"


def particles(text) -> str:
    """Resolve every neutral particle marker in ``text`` by the syllable just before it.

    "한국과학기술대학교이(가)" → "한국과학기술대학교가"; "통지서 IAFM-2025-0003(으)로" → "… 0003으로".
    Text without markers (any English message) comes back unchanged.
    """
    text = str(text)
    if "(" not in text:
        return text
    out, last = [], 0
    for match in _MARKER_RE.finditer(text):
        start = match.start()
        before = text[:start]
        pair = _MARKERS[match.group()]
        out.append(text[last:start])
        if before and not before[-1].isspace():
            out.append(choose(before, pair))
        else:
            out.append(match.group())
        last = match.end()
    out.append(text[last:])
    return "".join(out)
