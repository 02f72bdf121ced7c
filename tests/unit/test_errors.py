"""Error types carry their HTTP status and a client-safe JSON body."""

from __future__ import annotations

import json

import pytest

from bert_classifier.errors import (
    NAME_LIMIT,
    InternalError,
    InvalidArtifacts,
    InvalidInput,
    InvalidSetting,
    NotAcceptable,
    PayloadTooLarge,
    ServingError,
    UnsupportedMediaType,
    quote_name,
)
from bert_classifier.messages import error_response

pytestmark = pytest.mark.unit

STATUSES = [
    (InvalidInput, 400),
    (NotAcceptable, 406),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (InternalError, 500),
]


@pytest.mark.parametrize(("error_type", "status"), STATUSES)
def test_each_serving_error_carries_its_http_status(error_type, status):
    error = error_type("boom")

    assert error.status == status
    assert isinstance(error, ServingError)


@pytest.mark.parametrize(("error_type", "status"), STATUSES)
def test_as_dict_is_code_type_message(error_type, status):
    body = error_type("the message").as_dict()

    assert body == {"code": status, "type": error_type.__name__, "message": "the message"}
    assert json.loads(json.dumps(body)) == body  # JSON-serialisable as is


def test_quote_name_escapes_every_non_ascii_character_and_cuts_long_names():
    assert quote_name("caf\u00e9") == "'caf\\xe9'"
    assert quote_name("\ud800x") == "'\\ud800x'"  # a lone surrogate from a JSON "\ud800" escape
    assert quote_name("a\nb") == "'a\\nb'"
    assert quote_name("x" * 50) == "'" + "x" * NAME_LIMIT + "'..."
    assert quote_name(7) == "'7'"
    quote_name("\udfff" * 100).encode("ascii")  # always encodable


@pytest.mark.parametrize("error", [InvalidSetting("max_length=3 is too small"), InvalidArtifacts("no config.json")])
def test_load_time_errors_never_become_a_client_error_or_reach_the_client(error):
    # Broken artifacts and settings stop the worker; if one ever escaped into a request it is a plain 500.
    response = error_response(error)

    assert response.status == 500
    assert json.loads(response.body)["type"] == "InternalError"
    assert str(error) not in response.body.decode()
