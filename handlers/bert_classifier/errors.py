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
    """The request body is malformed or does not follow the request schema: malformed JSON, a missing, unknown or
    wrongly typed field, a non-string item, an empty text or list, invalid UTF-8 (or the declared charset), a lone
    UTF-16 surrogate (`"\\ud800"` in JSON), malformed CSV or JSON lines, bad parameters, an empty form post."""

    status = 400


class Forbidden(ServingError):
    """The server is set up not to do what the request asks (explanations off on this worker pool)."""

    status = 403


class NotAcceptable(ServingError):
    """The `Accept` header lists no response type we produce."""

    status = 406


class PayloadTooLarge(ServingError):
    """More than `max_texts_per_request` texts (CSV and JSON lines stop reading at the first row over), more than
    `max_tokens_per_request` tokens of model input, a body over `max_request_bytes`, or, for an explanation, more
    than `max_texts_per_explanation` texts."""

    status = 413


class UnsupportedMediaType(ServingError):
    """The request's Content-Type or charset is not one we can decode."""

    status = 415


class TooManyRequests(ServingError):
    """The batch has no room left for this request's work: an explanation request in a batch that already explains
    `max_explained_texts_per_batch` texts. The client may retry."""

    status = 429


class ServiceUnavailable(ServingError):
    """The server could not get to this request in time: its batch had run `batch_deadline_seconds` before this
    request's round started. Retry it; never the client's mistake."""

    status = 503


class NotSupported(ServingError):
    """The served model or archive cannot do what the request asks (the server's limit, not the client's mistake)."""

    status = 501


class InternalError(ServingError):
    """A fault on our side (never the client's input), logged with its type and stack frames, never its message or
    any text. The message never contains input text."""

    status = 500


class InvalidArtifacts(Exception):
    """The model folder is missing a file or its files disagree (raised at load and archive time)."""


class InvalidSetting(ValueError):
    """A handler setting or environment variable has a value we cannot use."""
