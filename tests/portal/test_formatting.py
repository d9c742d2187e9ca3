from django.utils import translation

from portal.templatetags.portal_format import krw


def test_amounts_are_written_the_korean_and_the_english_way():
    with translation.override("ko"):
        assert krw(3_000_000_000) == "3,000,000,000원"
    with translation.override("en"):
        assert krw(4_500_000_000) == "4,500,000,000 KRW"
    assert krw(None) == "—"
