"""`application/json` bodies: `{"data": ...}`, `{"text": ...}`, `{"inputs": ..., "parameters": ...}`, or a bare
string or list of strings; a text pair is `{"text": a, "text_pair": b}`, alone, as the value of `data` or `inputs`
(Hugging Face's shape), or as an item of a list (a list under `inputs` that starts with an object is an Open
Inference request: put lists of pairs under `data`)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput, quote_name
from .pairs import SECOND, Item, pair_from
from .text_body import to_str

TEXT_FIELDS = ("data", "inputs", "text")
ALLOWED_FIELDS = (*TEXT_FIELDS, SECOND, "parameters")


def decode(body: Any, encoding: str = "utf-8") -> tuple[tuple[Item, ...], bool, Any]:
    """Return `(texts, single, parameters)`; `single` is true when one text or pair (not a list) was sent."""
    document = body if isinstance(body, (dict, list)) else parse_json(to_str(body, encoding))
    return texts_from_document(document)


def parse_json(text: str) -> Any:
    """Parse JSON, raising `InvalidInput` with the position (never the content) of a syntax error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON: {error.msg} (line {error.lineno} column {error.colno})") from None
    except ValueError:  # an integer literal over sys.get_int_max_str_digits() digits
        raise InvalidInput("malformed JSON: a number is too long") from None
    except RecursionError:
        raise InvalidInput("malformed JSON: nested too deeply") from None


def texts_from_document(document: Any) -> tuple[tuple[Item, ...], bool, Any]:
    """Find the texts in a parsed JSON document (see module docstring for the accepted shapes)."""
    if isinstance(document, str):
        return (document,), True, None
    if isinstance(document, list):
        return texts_from_list(document, "body"), False, None
    if not isinstance(document, dict):
        raise InvalidInput(f"expected a JSON object, string or list of strings, got {type_name(document)}")
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    present = [name for name in TEXT_FIELDS if name in document]
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown field(s): {names}; allowed: {', '.join(ALLOWED_FIELDS)}")
    if len(present) != 1:
        raise InvalidInput("the JSON object needs exactly one of the fields 'data', 'inputs' or 'text'")
    items, single = _field_items(document, present[0])
    return items, single, document.get("parameters")


def _field_items(document: dict, name: str) -> tuple[tuple[Item, ...], bool]:
    """The texts of the one text field `name` (with `text_pair`, the one pair), and whether one was sent."""
    value = document[name]
    if SECOND in document:
        if name != "text":
            raise InvalidInput("'text_pair' goes with 'text': send {\"text\": ..., \"text_pair\": ...}")
        return (pair_from(document, "the request"),), True
    if isinstance(value, str):
        return (value,), True
    if isinstance(value, list) and name != "text":
        return texts_from_list(value, name), False
    if isinstance(value, dict) and name != "text":
        return (_item(value, name),), True
    expected = "a string" if name == "text" else "a string, a text pair object or a list of them"
    raise InvalidInput(f"field '{name}' must be {expected}, got {type_name(value)}")


def texts_from_list(items: list, where: str) -> tuple[Item, ...]:
    """Every item must be a string or a text pair object; name the first one that is not."""
    return tuple(_item(item, f"{where}[{index}]") for index, item in enumerate(items))


def _item(item: Any, where: str) -> Item:
    if isinstance(item, str):
        return item
    pair = pair_from(item, where) if isinstance(item, dict) else None
    if pair is None:
        raise InvalidInput(f"{where} must be a string or a text pair object, got {type_name(item)}")
    return pair


def type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    if type(value) in names:
        return names[type(value)]
    return "a number" if isinstance(value, (int, float)) else type(value).__name__
