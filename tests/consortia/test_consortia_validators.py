"""Property tests of the business registration number check digit."""

from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from consortia.validators import business_number_is_reserved, make_business_number, normalise_business_number

# Nine digits that a real number may start with (reserved ones are refused: see below).
nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(
    lambda prefix: not business_number_is_reserved(make_business_number(prefix))
)


@given(nine_digits)
def test_made_numbers_validate_in_both_spellings(prefix):
    number = make_business_number(prefix)
    assert normalise_business_number(number) == number
    assert normalise_business_number(f"{number[:3]}-{number[3:5]}-{number[5:]}") == number


@given(nine_digits, st.integers(min_value=1, max_value=9))
def test_any_other_check_digit_is_refused(prefix, shift):
    number = make_business_number(prefix)
    wrong = number[:9] + str((int(number[9]) + shift) % 10)
    try:
        normalise_business_number(wrong)
    except ValidationError as error:
        assert error.code == "business_number_check_digit"
    else:
        raise AssertionError(f"{wrong} was accepted")


@given(st.text(max_size=14).filter(lambda t: not t.strip().replace("-", "").isdigit()))
def test_non_numbers_are_refused_with_the_format_message(text):
    try:
        normalise_business_number(text)
    except ValidationError as error:
        assert error.code == "business_number_format"
    else:
        raise AssertionError(f"{text!r} was accepted")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_reserved_numbers_are_refused_even_with_a_right_check_digit(prefix):
    number = make_business_number(prefix)
    reserved = number[:3] == "000" or number[3:5] == "00" or number[5:9] == "0000" or len(set(number)) == 1
    try:
        normalise_business_number(number)
    except ValidationError as error:
        assert reserved and error.code == "business_number_reserved"
    else:
        assert not reserved, f"{number} was accepted"
