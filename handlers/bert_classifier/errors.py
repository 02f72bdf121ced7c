"""Error types that carry their HTTP status. `messages.error_response` is the one place they become responses."""

from __future__ import annotations

NAME_LIMIT = 40
"""Characters of a client-sent name (a field, parameter, media type or charset) an error message may quote."""


def quote_name(name: object, limit: int = NAME_LIMIT) -> str:
    """A client-sent *name* made safe to put in an error message: at most `limit` characters, quoted, and every
    non-ASCII or non-printable character escaped (`'\\ud800'`), so the message is always encodable and short.
    Never pass request text here: messages name where a problem is, never what the text says."""
    text = str(name)
    return ascii(text[:limit]) + ("..." if len(text) > limit else "")


class ServingError(Exception):
    """Base class: a problem with a specific HTTP status and a message safe to show to the client."""

    status: int = 500
    protocol: object | None = None
    """The protocol the request was recognised as before this was raised (set by `codecs.protocol`), whose error
    body answers it; None when it was raised before the body's protocol was known."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict:
        """The JSON error body: `{"code", "type", "message"}`."""
        return {"code": self.status, "type": type(self).__name__, "message": self.message}


class InvalidInput(ServingError):
    """The request body is malformed or does not follow the request schema."""

    status = 400


class NotAcceptable(ServingError):
    """The `Accept` header asks for a response type we cannot produce."""

    status = 406


class PayloadTooLarge(ServingError):
    """Too many texts in one request, or a body over the size limit."""

    status = 413


class UnsupportedMediaType(ServingError):
    """The request's Content-Type is not one we can decode."""

    status = 415


class TooManyRequests(ServingError):
    """The batch has no room left for this request's work (explanations); the client may retry."""

    status = 429


class ServiceUnavailable(ServingError):
    """The server could not get to this request in time (retry it); never the client's mistake."""

    status = 503


class NotSupported(ServingError):
    """The served model or archive cannot do what the request asks (the server's limit, not the client's mistake)."""

    status = 501


class InternalError(ServingError):
    """A fault on our side (never the client's input). The message never contains input text."""

    status = 500


class InvalidArtifacts(Exception):
    """The model folder is missing a file or its files disagree (raised at load and archive time)."""


class InvalidSetting(ValueError):
    """A handler setting or environment variable has a value we cannot use."""
