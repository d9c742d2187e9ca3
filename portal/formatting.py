"""How the portal writes money and time, in one place (a pure module: no Django).

Pages, PDFs, CSV files, mails, messages and the allocation policy's explanations all call
these functions, so a wording changes here and nowhere else.

* ``digits(3000000000)`` → ``3,000,000,000`` (thousands separators, as in both languages);
* ``krw(3000000000)`` → ``3,000,000,000원``; ``krw_en(3000000000)`` → ``3,000,000,000 KRW``;
* ``krw_korean(4512000000)`` → ``45억 1,200만 원`` (Korean myriad units, as on public documents);
* ``kst(moment)`` → ``2025-08-01 18:00:00 KST``; ``kst(moment, seconds=False)`` → ``2025-08-01 18:00 KST``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# The portal's time (settings.TIME_ZONE): every time it writes is Korea Standard Time.
KST = ZoneInfo("Asia/Seoul")

_KOREAN_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))


def digits(amount: int) -> str:
    """``3000000000`` → ``3,000,000,000``."""
    return f"{int(amount):,}"


def krw(amount: int) -> str:
    """``3000000000`` → ``3,000,000,000원`` (digits, then 원 without a space)."""
    return f"{digits(amount)}원"


def krw_en(amount: int) -> str:
    """``3000000000`` → ``3,000,000,000 KRW``."""
    return f"{digits(amount)} KRW"


def krw_korean(amount: int) -> str:
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


def kst(moment: datetime, *, seconds: bool = True) -> str:
    """An aware moment in Korea Standard Time: ``2025-08-01 18:00:00 KST`` (receipts, deadlines,
    the audit trail), or to the minute with ``seconds=False`` (windows, due times, reminders).

    A naive moment is refused (``ValueError``), as Django's ``localtime()`` refuses it."""
    if moment.utcoffset() is None:
        raise ValueError("kst() needs an aware datetime.")
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST" if seconds else "%Y-%m-%d %H:%M KST")


# --------------------------------------------------------------------------- numbers and days on documents


def format_number(value) -> str:
    """Thousands separators; decimals only when not whole (``640.00 -> "640"``, ``1.5 -> "1.5"``)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def format_date_ko(day: date) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일"


def format_date_dotted(day: date) -> str:
    """The Korean public-document style ``2025. 7. 1.``, read the same in both languages."""
    return f"{day.year}. {day.month}. {day.day}."


def format_date_en(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"
