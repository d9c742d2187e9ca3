"""Amounts in KRW as award notices and the allocation pages write them: digits with 원, and the
Korean myriad reading (조, 억, 만)."""

from __future__ import annotations


def format_krw(amount: int) -> str:
    """``3000000000 -> "3,000,000,000원"`` (digits with thousands separators, then 원)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(int(amount)):,}원"


_KOREAN_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))


def format_krw_korean(amount: int) -> str:
    """Korean myriad wording, as on Korean public documents.

    The amount is split into 조 (10¹²), 억 (10⁸), 만 (10⁴) and a remainder; each group is
    written in digits with thousands separators, groups that are zero are left out, and
    groups are separated by a space. When the last written group carries a unit word a
    space precedes 원; a remainder takes 원 directly::

        3,000,000,000   -> "30억 원"
        3,500,000,000   -> "35억 원"
        12,345,000,000  -> "123억 4,500만 원"
        100,000,001     -> "1억 1원"
        0               -> "0원"
    """
    amount = int(amount)
    if amount == 0:
        return "0원"
    sign = "-" if amount < 0 else ""
    rest = abs(amount)
    parts: list[str] = []
    for size, word in _KOREAN_UNITS:
        group, rest = divmod(rest, size)
        if group:
            parts.append(f"{group:,}{word}")
    if rest:
        return sign + " ".join([*parts, f"{rest:,}원"])
    return sign + " ".join(parts) + " 원"
