"""Personal names: cleaning, traditional → simplified, pinyin, surname split.

``normalize_names(raw)`` returns, aligned on ``raw.index``:

* ``name`` — NFKC, every whitespace and invisible character removed,
  traditional → simplified (OpenCC ``t2s``, iterated to a fixed point so the
  function is idempotent), the middle-dot variants of minority names
  (``· • ・ . ‧ ･ ⋅ ▪ ‐ - ∙ ● ⸱ ㆍ —``…) unified to ``·`` (runs collapsed,
  none at either end), ``？`` and ``�`` (a character lost in a GBK round trip)
  written ``?``; ``<NA>`` when nothing is left;
* ``name_pinyin`` — toneless pinyin, one space between syllables
  (``wang xiao ming``; ``ü`` is written ``v``: ``lv``); characters without a
  reading (``?``, digits, Latin letters) stay as they are, one token each. The
  ``·`` of a minority name is **dropped** (``买买提·艾尔肯`` → ``mai mai ti ai er
  ken``), so that the same name written with, without or with another dot
  compares equal;
* ``name_pinyin_tone`` — the same with tone numbers 1–5 (``wang2 xiao3 ming2``);
* ``surname`` / ``given_name`` — compound-surname aware (欧阳, 司马, 诸葛 …,
  for names of three or more characters); a ``·`` name (a transliterated
  minority name has no surname in this sense) has surname ``<NA>`` and the
  whole name as given name; a one-character name is a surname alone;
* ``name_has_unknown`` — bool, the name holds a ``?``.

The surname's pinyin uses its surname reading (单 shan, 曾 zeng, 解 xie, 仇
qiu, 区 ou, 查 zha, 朴 piao, 乐 yue, 覃 qin, 尉迟 yu chi, 万俟 mo qi …); the given
name goes through pypinyin with phrase context.

Work happens once per unique value: the text cleaning with Arrow compute,
t2s with one OpenCC call over all unique names, pinyin per unique cleaned
name (cached per given name).
"""

from __future__ import annotations

import functools
import re
import numbers

import numpy as np
import opencc
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pypinyin import Style, lazy_pinyin

from relieflink.identity import _cells as C

__all__ = ["normalize_names", "normalize_name", "pinyin_initials", "split_name", "name_pinyin", "COMPOUND_SURNAMES", "SURNAME_READINGS"]

DOT = "·"
# Characters used for the separating dot of transliterated names.
_DOT_VARIANTS = (
    "\u00b7\u0387\u2022\u2027\u2219\u22c5\u25aa\u25cf\u2e31\u30fb\uff65\u318d\u2024\u002e\uff0e\u3002\uff61"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u002d\uff0d\u30fc\u00b8\u02d1\u16eb\u2981\ua78f\u2e33"
)
_DOT_RE = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in _DOT_VARIANTS) + "]+"
#: the same, public: what a report's search unifies before hashing a typed name (report/lookup.py)
DOT_VARIANTS = _DOT_VARIANTS
_JUNK_RE = C.SPACE_RE + "+|" + C.INVISIBLE_RE

#: Compound surnames recognized at the start of a name of three or more
#: characters. Left out on purpose: pairs that are far more often a one-character
#: surname followed by a given name (单于, 宗政, 梁丘, 第五, 百里 …).
COMPOUND_SURNAMES = frozenset(
    """欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 申屠 万俟 澹台
    轩辕 呼延 淳于 太史 闻人 赫连 南宫 钟离 公冶 羊舌 微生 左丘 东郭 西门 仲孙 亓官 司空 司寇
    乐正 公羊 公西 拓跋 独孤 巫马 漆雕 壤驷 谷梁 段干 东门 颛孙 哥舒 完颜 耶律 濮阳 鲜于 闾丘
    公良 子车 仉督 宰父 即墨 南门""".split()
)

#: Surname readings (tone numbers) that differ from pypinyin's default reading.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "单": ("shan4",), "曾": ("zeng1",), "解": ("xie4",), "仇": ("qiu2",), "区": ("ou1",),
    "查": ("zha1",), "朴": ("piao2",), "乐": ("yue4",), "覃": ("qin2",), "盖": ("ge3",),
    "缪": ("miao4",), "翟": ("zhai2",), "秘": ("bi4",), "种": ("chong2",), "繁": ("po2",),
    "员": ("yun4",), "华": ("hua4",), "任": ("ren2",), "纪": ("ji3",), "燕": ("yan1",),
    "黑": ("he4",), "召": ("shao4",), "句": ("gou1",), "宁": ("ning4",), "过": ("guo1",),
    "祭": ("zhai4",), "能": ("nai4",), "都": ("du1",), "重": ("chong2",), "藏": ("zang4",),
    "卜": ("bu3",), "乜": ("nie4",), "折": ("she2",), "洗": ("xian3",), "隗": ("wei3",),
    "阚": ("kan4",), "蕃": ("pi2",), "郇": ("xun2",), "粘": ("nian2",), "薄": ("bo2",),
    "长": ("chang2",), "相": ("xiang4",), "令": ("ling2",),
    "尉迟": ("yu4", "chi2"), "万俟": ("mo4", "qi2"), "长孙": ("zhang3", "sun1"),
    "澹台": ("tan2", "tai2"), "令狐": ("ling2", "hu2"), "乐正": ("yue4", "zheng4"),
    "单于": ("chan2", "yu2"), "钟离": ("zhong1", "li2"), "皇甫": ("huang2", "fu3"),
}

_T2S = opencc.OpenCC("t2s")


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3400 <= o <= 0x9FFF
        or 0x20000 <= o <= 0x323AF
        or 0xF900 <= o <= 0xFAFF
        or o == 0x3007
    )


def split_name(name: str) -> tuple[str | None, str | None]:
    """(surname, given name) of a cleaned name; see the module doc."""
    if not name:
        return None, None
    if DOT in name or not _is_han(name[0]):
        return None, name
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    if len(name) == 1:
        return name, None
    return name[0], name[1:]


_LATIN_RUN = re.compile(r"[A-Za-z]+|.", re.S)


def _tokens(chars: str) -> list[str]:
    """Text pypinyin has no reading for: a run of Latin letters is one lower-case
    token, any other character (``?``, a digit, an unknown rare character) one token."""
    return [t.lower() for t in _LATIN_RUN.findall(chars)]


@functools.lru_cache(maxsize=200_000)
def _pinyin_tone(text: str) -> tuple[str, ...]:
    """Tone-numbered pinyin tokens of a run of text (phrase-aware)."""
    if not text:
        return ()
    return tuple(
        lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=_tokens)
    )


def _toneless(token: str) -> str:
    if len(token) > 1 and token[-1] in "12345" and token[:-1].isascii() and token[:-1].isalpha():
        return token[:-1]
    return token


def name_pinyin(name: str) -> tuple[str, str]:
    """(toneless, tone-numbered) pinyin of a cleaned name, surname readings applied."""
    tokens: list[str] = []
    surname, given = split_name(name)
    if surname is not None:
        tokens.extend(SURNAME_READINGS.get(surname) or _pinyin_tone(surname))
        tokens.extend(_pinyin_tone(given or ""))
    else:
        for part in name.split(DOT):
            tokens.extend(_pinyin_tone(part))
    tokens = [t for t in tokens if t and not t.isspace()]
    return " ".join(_toneless(t) for t in tokens), " ".join(tokens)


def _clean_unique(uniq: pa.StringArray) -> pa.StringArray:
    """The text part of the normalization (everything but t2s), on Arrow."""
    a = pc.utf8_normalize(uniq, "NFKC")
    a = pc.replace_substring_regex(a, pattern=_JUNK_RE, replacement="")
    a = pc.replace_substring(a, pattern="\ufffd", replacement="?")
    a = pc.replace_substring_regex(a, pattern=_DOT_RE, replacement=DOT)
    a = pc.replace_substring_regex(a, pattern="^·+|·+$", replacement="")
    return pc.utf8_normalize(a, "NFKC")


def _t2s_all(values: list[str]) -> list[str]:
    """OpenCC t2s of many short strings with one call (they hold no newline)."""
    if not values:
        return []
    out = _T2S.convert("\n".join(values)).split("\n")
    if len(out) != len(values):  # defensive: never trust a joined conversion blindly
        out = [_T2S.convert(v) for v in values]
    return out


def _normalize_unique(values: list[str]) -> list[str]:
    """Full normalization of unique raw names, iterated to a fixed point."""
    current = values
    for _ in range(4):
        cleaned = _clean_unique(pa.array(current, type=pa.string())).to_pylist()
        simplified = _t2s_all(cleaned)
        if simplified == current:
            break
        current = simplified
    return current


def _other_cell(v: object) -> str | None:
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if not np.isfinite(x):
            return None
        return str(int(x)) if x.is_integer() else repr(x)
    return str(v)


def normalize_names(raw: pd.Series) -> pd.DataFrame:
    """Normalize a raw column of personal names; see the module doc for the columns."""
    if not isinstance(raw, pd.Series):
        raw = pd.Series(raw, dtype=object)
    index = raw.index
    codes, uniq = C.unique_texts(raw, _other_cell)
    names = _normalize_unique(uniq.to_pylist())
    # distinct cleaned names (胡 磊 and 胡磊 are one): pinyin once each
    n_codes, n_uniq = pd.factorize(np.asarray(names, dtype=object))
    cols: dict[str, list] = {"name": [], "name_pinyin": [], "name_pinyin_tone": [], "surname": [], "given_name": []}
    unknown: list[bool] = []
    for nm in n_uniq:
        if not nm:
            for v in cols.values():
                v.append(None)
            unknown.append(False)
            continue
        sur, giv = split_name(nm)
        plain, tone = name_pinyin(nm)
        cols["name"].append(nm)
        cols["name_pinyin"].append(plain)
        cols["name_pinyin_tone"].append(tone)
        cols["surname"].append(sur)
        cols["given_name"].append(giv)
        unknown.append("?" in nm)
    # row → unique raw → unique cleaned name
    row_codes = np.where(codes >= 0, n_codes[np.maximum(codes, 0)] if len(n_codes) else -1, -1)
    out = {
        key: C.to_series(C.take_with_null(pa.array(vals, type=pa.string()), row_codes), index)
        for key, vals in cols.items()
    }
    unk = np.asarray(unknown + [False], dtype=bool)
    out["name_has_unknown"] = pd.Series(unk[row_codes], index=index)
    return pd.DataFrame(out, index=index)


def pinyin_initials(pinyin: pd.Series) -> pd.Series:
    """First letter of each syllable of a pinyin column: ``wang xiao ming`` → ``wxm``."""
    if not isinstance(pinyin, pd.Series):
        pinyin = pd.Series(pinyin, dtype=object)
    split = C.split_cells(pinyin.astype(object))
    arr = pc.replace_substring_regex(split.text, pattern=r"(\S)\S*\s*", replacement=r"\1")
    return C.to_series(arr, pinyin.index)


def normalize_name(raw: str | None) -> tuple[str | None, str | None]:
    """One name as :func:`normalize_names` gives it: (``name``, ``name_pinyin``), None when there is
    none — without building a table (screening normalizes one applicant at a time)."""
    if not isinstance(raw, str):
        return None, None
    name = _normalize_unique([raw])[0]
    if not name:
        return None, None
    return name, name_pinyin(name)[0]
