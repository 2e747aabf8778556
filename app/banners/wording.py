"""Absolute terms in advertising copy (China's Advertising Law, article 9 (3)).

The law forbids "国家级", "最高级", "最佳" and the like in advertisements, and market
regulators fine shops for banners that say 最低价 or 第一. The check is a plain substring
search over every text a banner can show (base layers and every variant): a merchant
sees each hit as a warning, or — when the shop enables strict wording — as a refusal.

:data:`DEFAULT_ABSOLUTE_TERMS` is a deliberately short list of the terms regulators cite
most; a shop can pass its own. Matching ignores case (``NO.1`` = ``No.1``). A few common
words merely contain a term — 最近 (recently), 最后 (last), 第一次 (the first time) — and
are listed in :data:`DEFAULT_EXCEPTIONS` so they do not count.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_ABSOLUTE_TERMS: tuple[str, ...] = (
    "最",  # 最佳, 最低价, 最优惠, 最好 … (superlatives)
    "第一",
    "唯一",
    "首个",
    "首选",
    "顶级",
    "国家级",
    "世界级",
    "极致",
    "绝对",
    "100%",
    "万能",
    "独一无二",
    "史无前例",
    "NO.1",
    "TOP1",
)

DEFAULT_EXCEPTIONS: tuple[str, ...] = ("最近", "最后", "最终", "最初", "第一次", "第一步")


def wording_hits(
    text: str,
    terms: Sequence[str] = DEFAULT_ABSOLUTE_TERMS,
    exceptions: Sequence[str] = DEFAULT_EXCEPTIONS,
) -> list[str]:
    """The terms found in ``text``, in the order of ``terms``, each once.

    An occurrence inside an exception word (最近 for 最) does not count; another
    occurrence of the same term elsewhere in the text still does.
    """
    folded = text.casefold()
    # Blank out the exception words first (same length, so positions do not matter).
    for word in exceptions:
        folded = folded.replace(word.casefold(), "\0" * len(word))
    return [term for term in dict.fromkeys(terms) if term and term.casefold() in folded]
