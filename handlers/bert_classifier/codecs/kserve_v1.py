"""KServe v1 (`POST /v1/models/<model>:predict`): `{"instances": [...]}` in, `{"predictions": [...]}` out.

Each instance is a string, an object with one string field `text`, `data` or `inputs`, or a text pair object
(`{"text": a, "text_pair": b}`); each prediction is our
usual result object, in instance order. Errors are KServe's `{"error": "<message>"}` (with our status).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, quote_name
from .json_body import TEXT_FIELDS, type_name
from .limits import check_text_count
from .negotiation import JSON
from .pairs import Item, pair_from
from .protocol import Answer, JsonErrorProtocol, ModelIdentity
from .response import encode_json

ALLOWED_FIELDS = ("instances", "parameters")


class KServeV1(JsonErrorProtocol):
    name = "kserve-v1"

    def encode(self, results: list[dict], single: bool, response_format: str, model: ModelIdentity) -> Answer:
        return Answer(encode_json({"predictions": results}), JSON)


KSERVE_V1 = KServeV1()


def recognises(document: Any) -> bool:
    """A JSON object with an `instances` field is a KServe v1 request (our own contract has no such field)."""
    return isinstance(document, dict) and "instances" in document


def decode(document: dict, max_texts: int | None) -> tuple[tuple[Item, ...], Any]:
    """`(texts, parameters)`; raises `InvalidInput` naming the field or instance index (never the text)."""
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown field(s): {names}; a KServe v1 request allows: {', '.join(ALLOWED_FIELDS)}")
    instances = document["instances"]
    if not isinstance(instances, list):
        raise InvalidInput(f"'instances' must be a list, got {type_name(instances)}")
    check_text_count(len(instances), max_texts)
    return tuple(_text(instance, index) for index, instance in enumerate(instances)), document.get("parameters")


def _text(instance: Any, index: int) -> Item:
    if isinstance(instance, str):
        return instance
    pair = pair_from(instance, f"instances[{index}]") if isinstance(instance, dict) and len(instance) == 2 else None
    if pair is not None:
        return pair
    if isinstance(instance, dict):
        present = [name for name in TEXT_FIELDS if name in instance]
        if len(present) == 1 and len(instance) == 1 and isinstance(instance[present[0]], str):
            return instance[present[0]]
    raise InvalidInput(
        f"instances[{index}] must be a string, an object with one string field 'text', 'data' or 'inputs', or a "
        f"text pair object ('text' and 'text_pair'), got {type_name(instance)}"
    )
