"""`application/json` bodies: `{"data": ...}`, `{"text": ...}`, `{"inputs": ..., "parameters": ...}`, or a bare
string or list of strings."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput, quote_name
from .text_body import to_str

TEXT_FIELDS = ("data", "inputs", "text")
ALLOWED_FIELDS = (*TEXT_FIELDS, "parameters")


def decode(body: Any, encoding: str = "utf-8") -> tuple[tuple[str, ...], bool, Any]:
    """Return `(texts, single, parameters)`; `single` is true when one string (not a list) was sent."""
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


def texts_from_document(document: Any) -> tuple[tuple[str, ...], bool, Any]:
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
    name = present[0]
    value = document[name]
    if isinstance(value, str):
        return (value,), True, document.get("parameters")
    if isinstance(value, list) and name != "text":
        return texts_from_list(value, name), False, document.get("parameters")
    expected = "a string" if name == "text" else "a string or a list of strings"
    raise InvalidInput(f"field '{name}' must be {expected}, got {type_name(value)}")


def texts_from_list(items: list, where: str) -> tuple[str, ...]:
    """Every item must be a string; name the first one that is not."""
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInput(f"{where}[{index}] must be a string, got {type_name(item)}")
    return tuple(items)


def type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    if type(value) in names:
        return names[type(value)]
    return "a number" if isinstance(value, (int, float)) else type(value).__name__
