"""Error types carry their HTTP status and a client-safe JSON body."""

from __future__ import annotations

import json

import pytest

from bert_classifier.errors import (
    InternalError,
    InvalidArtifacts,
    InvalidInput,
    InvalidSetting,
    NotAcceptable,
    PayloadTooLarge,
    ServingError,
    UnsupportedMediaType,
)

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


def test_base_serving_error_defaults_to_500():
    assert ServingError("x").status == 500


@pytest.mark.parametrize(("error_type", "status"), STATUSES)
def test_as_dict_is_code_type_message(error_type, status):
    body = error_type("the message").as_dict()

    assert body == {"code": status, "type": error_type.__name__, "message": "the message"}
    assert json.loads(json.dumps(body)) == body  # JSON-serialisable as is


def test_message_is_kept_as_attribute_and_str():
    error = InvalidInput("field 'text' must be a string")

    assert error.message == "field 'text' must be a string"
    assert str(error) == "field 'text' must be a string"


def test_serving_errors_can_be_raised_and_caught_as_the_base_class():
    with pytest.raises(ServingError) as raised:
        raise PayloadTooLarge("too many")

    assert raised.value.status == 413


def test_load_time_errors_are_not_serving_errors():
    # Broken artifacts and settings stop the worker; they must never be turned into a client response.
    assert not issubclass(InvalidArtifacts, ServingError)
    assert not issubclass(InvalidSetting, ServingError)
    assert issubclass(InvalidSetting, ValueError)
