import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class CharacterClassPasswordValidator:
    """A strong password mixes letters with digits or symbols."""

    def validate(self, password: str, user=None) -> None:
        has_letter = re.search(r"[^\W\d_]", password) is not None
        has_other = re.search(r"[\d\W_]", password) is not None
        if not (has_letter and has_other):
            raise ValidationError(
                _("The password must contain letters and at least one digit or symbol."),
                code="password_character_classes",
            )

    def get_help_text(self) -> str:
        return _("Your password must contain letters and at least one digit or symbol.")


# Characters refused in names and texts: C0/C1 controls (except tab and line breaks in
# multi-line texts), bidirectional embeddings/overrides/isolates and marks (they make
# "gpj.exe" read as "exe.jpg"), zero-width characters and the byte-order mark.
_BIDI_AND_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def clean_text(value, *, label: str, multiline: bool = False):
    """The text normalised to NFC (decomposed Hangul jamo become syllables), or
    ``ValidationError`` naming ``label`` if it holds control, bidirectional-override or
    invisible characters. ``None`` and non-strings are returned unchanged.

    Used by the services that store names and proposal texts, so forms and the API share it.
    """
    import unicodedata

    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value)
    for char in text:
        if char in _BIDI_AND_INVISIBLE or (
            unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") and not (multiline and char in _MULTILINE_ALLOWED)
        ):
            raise ValidationError(
                _(
                    "%(label)s: remove the invisible or control character U+%(code)04X "
                    "(direction overrides and control characters are not allowed)."
                )
                % {"label": label, "code": ord(char)},
                code="forbidden_character",
            )
    return text
