from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils import translation

from gpu_allocation.templatetags.allocation_extras import krw_eok
from portal.formatting import (
    digits,
    format_date_dotted,
    format_date_en,
    format_date_ko,
    format_number,
    krw,
    krw_en,
    krw_korean,
    kst,
)
from portal.templatetags.portal_format import krw as krw_filter
from portal.templatetags.portal_labels import kst as kst_filter


def test_amounts_are_written_the_korean_and_the_english_way():
    with translation.override("ko"):
        assert krw_filter(3_000_000_000) == "3,000,000,000원"
    with translation.override("en"):
        assert krw_filter(4_500_000_000) == "4,500,000,000 KRW"
    assert krw_filter(None) == "—"


@pytest.mark.parametrize(
    ("amount", "grouped", "korean_digits", "english", "words"),
    [
        (3_000_000_000, "3,000,000,000", "3,000,000,000원", "3,000,000,000 KRW", "30억 원"),
        (3_500_000_000, "3,500,000,000", "3,500,000,000원", "3,500,000,000 KRW", "35억 원"),
        (5_000_000_000, "5,000,000,000", "5,000,000,000원", "5,000,000,000 KRW", "50억 원"),
        (4_512_000_000, "4,512,000,000", "4,512,000,000원", "4,512,000,000 KRW", "45억 1,200만 원"),
        (12_345_000_000, "12,345,000,000", "12,345,000,000원", "12,345,000,000 KRW", "123억 4,500만 원"),
        (1_200_000_000_000, "1,200,000,000,000", "1,200,000,000,000원", "1,200,000,000,000 KRW", "1조 2,000억 원"),
        (100_000_001, "100,000,001", "100,000,001원", "100,000,001 KRW", "1억 1원"),
        (45_000, "45,000", "45,000원", "45,000 KRW", "4만 5,000원"),
        (999, "999", "999원", "999 KRW", "999원"),
        (0, "0", "0원", "0 KRW", "0원"),
        (-250_000_000, "-250,000,000", "-250,000,000원", "-250,000,000 KRW", "-2억 5,000만 원"),
    ],
)
def test_krw_is_written_in_digits_and_in_korean_units(amount, grouped, korean_digits, english, words):
    assert (digits(amount), krw(amount), krw_en(amount), krw_korean(amount)) == (
        grouped,
        korean_digits,
        english,
        words,
    )


def test_the_allocation_pages_read_amounts_as_the_notices_do():
    assert (krw_eok(4_512_000_000), krw_eok("100000001"), krw_eok(None), krw_eok("")) == (
        "45억 1,200만 원",
        "1억 1원",
        "",
        "",
    )


@pytest.mark.parametrize(
    ("moment", "with_seconds", "to_the_minute"),
    [
        (datetime(2025, 8, 1, 9, 0, 0, tzinfo=UTC), "2025-08-01 18:00:00 KST", "2025-08-01 18:00 KST"),
        (datetime(2025, 8, 1, 14, 59, 59, tzinfo=UTC), "2025-08-01 23:59:59 KST", "2025-08-01 23:59 KST"),
        (datetime(2025, 8, 1, 15, 0, 1, 999_999, tzinfo=UTC), "2025-08-02 00:00:01 KST", "2025-08-02 00:00 KST"),
        (
            datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
            "2026-01-01 13:30:00 KST",
            "2026-01-01 13:30 KST",
        ),
        (
            datetime(2025, 3, 1, 0, 0, tzinfo=timezone(timedelta(hours=9))),
            "2025-03-01 00:00:00 KST",
            "2025-03-01 00:00 KST",
        ),
    ],
)
def test_moments_are_written_in_korea_standard_time(moment, with_seconds, to_the_minute):
    assert (kst(moment), kst(moment, seconds=False), kst_filter(moment)) == (with_seconds, to_the_minute, with_seconds)


def test_a_naive_moment_is_refused_and_a_missing_one_shows_a_dash():
    with pytest.raises(ValueError):
        kst(datetime(2025, 8, 1, 18, 0))  # noqa: DTZ001 -- naive on purpose
    assert kst_filter(None) == "—"


def test_days_and_figures_on_documents_are_written_as_korean_public_documents_write_them():
    day = date(2025, 7, 1)
    assert (format_date_ko(day), format_date_dotted(day), format_date_en(day)) == (
        "2025년 7월 1일",
        "2025. 7. 1.",
        "1 July 2025",
    )
    assert [format_number(v) for v in (Decimal("640.00"), Decimal("1.5"), 12000)] == ["640", "1.5", "12,000"]
