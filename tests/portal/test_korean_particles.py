"""Korean particles chosen by the last syllable (받침): the helper and a message that uses it."""

import pytest

from consortia.models import Organisation
from consortia.validators import make_business_number
from portal.korean import particle, particles


@pytest.mark.parametrize(
    ("word", "pair", "expected"),
    [
        # Hangul: with a final consonant, without, and ㄹ (which takes 로, not 으로)
        ("한빛인공지능", "과/와", "한빛인공지능과"),
        ("한국과학기술대학교", "이/가", "한국과학기술대학교가"),
        ("누리랩스", "을/를", "누리랩스를"),
        ("바다소프트", "은/는", "바다소프트는"),
        ("하늘데이터", "과/와", "하늘데이터와"),
        ("서울미래대학교", "은/는", "서울미래대학교는"),
        ("미르테크", "이/가", "미르테크가"),
        ("별빛인텔리전스", "을/를", "별빛인텔리전스를"),
        ("광주과학대학교", "으로/로", "광주과학대학교로"),
        ("컨소시엄", "으로/로", "컨소시엄으로"),
        ("서울", "으로/로", "서울로"),
        ("서울", "이/가", "서울이"),
        ("기술성", "은/는", "기술성은"),
        # the pair may be written either way round
        ("한빛인공지능", "와/과", "한빛인공지능과"),
        # digits by their Korean reading: 1 일, 2 이, 3 삼, 10 십, 100 백, 2025 …오
        ("31", "이/가", "31이"),
        ("32", "이/가", "32가"),
        ("IAFM-2025-0001", "으로/로", "IAFM-2025-0001로"),
        ("IAFM-2025-0003", "으로/로", "IAFM-2025-0003으로"),
        ("10", "을/를", "10을"),
        ("100", "은/는", "100은"),
        ("2025", "은/는", "2025는"),
        ("H100", "이/가", "H100이"),
        # Latin letters: acronyms spelled out (LLM 엘엘엠, AI 에이아이), words by their sound
        ("LLM", "은/는", "LLM은"),
        ("Hanbit AI", "이/가", "Hanbit AI가"),
        ("Nuri Labs", "이/가", "Nuri Labs가"),
        ("Lab", "이/가", "Lab이"),
        ("Mir Tech", "과/와", "Mir Tech와"),
        ("Seoul", "으로/로", "Seoul로"),
        ("Team", "으로/로", "Team으로"),
        # closing quotes and brackets are skipped
        ("“기술성”", "은/는", "“기술성”은"),
        ("(주)한빛", "이/가", "(주)한빛이"),
    ],
)
def test_particle_follows_the_last_sound(word, pair, expected):
    assert particle(word, pair) == expected


def test_particles_resolves_the_markers_of_a_filled_in_translation():
    text = "실행 #31이(가) 승인; 통지서 IAFM-2025-0002(으)로 대체; “바다”은(는) 숫자가 아님; 기관 누리랩스을(를) 등록"
    assert (
        particles(text) == "실행 #31이 승인; 통지서 IAFM-2025-0002로 대체; “바다”는 숫자가 아님; 기관 누리랩스를 등록"
    )
    assert particles("한빛인공지능와(과) 한국과학기술대학교이(가) 함께") == "한빛인공지능과 한국과학기술대학교가 함께"
    # English text and a marker with nothing readable before it are left alone
    assert particles("Run #31 is now the approved allocation.") == "Run #31 is now the approved allocation."
    assert particles("★이(가)") == "★이(가)"


def test_demo_text_has_no_unresolved_particle(db):
    from consortia.demo import TEAMS, _fields

    for index, team in enumerate(TEAMS):
        summary = _fields(team, index)["summary"]
        assert "(과)" not in summary and "(가)" not in summary and "(이)" not in summary
    assert _fields(TEAMS[0], 0)["summary"].startswith("한빛인공지능과 한국과학기술대학교가 ")


@pytest.mark.parametrize(
    ("name_ko", "expected"),
    [("가람인공지능", "기관 가람인공지능을 등록했습니다."), ("가람소프트", "기관 가람소프트를 등록했습니다.")],
)
def test_page_message_joins_the_organisation_name_with_the_right_particle(client_for, applicant, name_ko, expected):
    client = client_for(applicant)
    number = make_business_number("555812345")
    response = client.post(
        "/consortia/organisations/new/",
        {"name_ko": name_ko, "name_en": "Garam", "kind": "startup", "business_number": number, "is_domestic": "on"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="ko",
    )
    assert response.status_code == 200
    assert Organisation.objects.filter(name_ko=name_ko).exists()
    text = response.content.decode()
    assert expected in text
    assert "을(를)" not in text
