"""Domain errors: *not possible now* (409) kept apart from *not allowed* (404)."""


class DomainError(Exception):
    """A rule of the programme refuses the request; the message is shown to the user."""

    status_code = 409
    code = "conflict"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = str(message)
        if code:
            self.code = code
        self.details = details or {}


class InvalidInput(DomainError):
    """The input is malformed or out of range; nothing was changed."""

    status_code = 400
    code = "invalid"


class PayloadTooLarge(InvalidInput):
    """The upload is larger than the limit (named in the message); nothing was stored."""

    status_code = 413
    code = "too_large"
