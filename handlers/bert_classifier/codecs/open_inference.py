"""Open Inference Protocol v2 ("OIP", KServe v2, Triton's HTTP/REST API): `POST /v2/models/<model>/infer`.

Request: one `BYTES` input tensor of UTF-8 texts (`data` flat, nested to match `shape`, or a single string), or
two named `text` and `text_pair` of one shape (text pairs, JSON data only), an
optional `id` (echoed), `parameters` (`top_k`, `return_all_scores`, Triton's `binary_data_output`) and `outputs`
(which tensors to return, each optionally `binary_data`). Answer: `model_name`, `model_version`, `id` and the
output tensors `label` (BYTES), `label_id` (INT64), `score` (FP32), shape `[n]` (`[n, k]` with `top_k`), and on
request `scores` (FP32, `[n, labels]`, by label id). Errors: `{"error": "<message>"}` with our status.

Triton's binary tensor extension is supported both ways: a body of `Inference-Header-Content-Length` bytes of
JSON followed by the tensors' raw bytes (BYTES: each element a little-endian uint32 length, then its bytes).

TorchServe's OIP gRPC service (`ModelInfer`) reaches the handler as JSON it builds itself ("the bridge"): BYTES
contents base64-encoded, `parameters` and `outputs` dropped, and it parses our JSON answer back into a
`ModelInferResponse`, ignoring the status. `TorchServeGrpcBridge` answers it: always an `id` and a version, and
an error as an `error` output tensor, because a body it cannot parse kills the worker and its whole batch.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, ServingError, quote_name
from .json_body import type_name
from .limits import check_text_count
from .negotiation import JSON
from .pairs import Item, items_from_tensors
from .parameters import RequestParameters, parameters_from
from .protocol import Answer, JsonErrorProtocol, ModelIdentity, ascii_json

BINARY_HEADER = "inference-header-content-length"
ASCII_DIGITS = re.compile(r"[0-9]+")
OUTPUT_TYPES = {"label": "BYTES", "label_id": "INT64", "score": "FP32", "scores": "FP32"}
DEFAULT_OUTPUTS = ("label", "label_id", "score")
REQUEST_FIELDS = ("id", "parameters", "inputs", "outputs", "model_name", "model_version")
"""The spec's four, and the two the KServe SDK also sends (the URL names the model; they are not read)."""
BRIDGE_FIELDS = ("id", "model_name", "inputs")
TENSOR_FIELDS = ("name", "datatype", "shape", "data", "parameters")
PACK = {"INT64": "q", "FP32": "f"}


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool = False


@dataclass(frozen=True)
class OpenInference(JsonErrorProtocol):
    """An OIP REST request: what its answer echoes and contains."""

    request_id: str | None = None
    outputs: tuple[RequestedOutput, ...] = tuple(RequestedOutput(name) for name in DEFAULT_OUTPUTS)
    top_k: int | None = None
    name = "open-inference"

    def encode(self, results: list[dict], single: bool, response_format: str, model: ModelIdentity) -> Answer:
        document, chunks = self._header(model), []
        document["outputs"] = []
        for output in self.outputs:
            datatype, shape, data = _tensor(output.name, results, self.top_k)
            tensor: dict[str, Any] = {"name": output.name, "datatype": datatype, "shape": shape}
            if output.binary:
                chunks.append(_to_bytes(datatype, data))
                tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
            else:
                tensor["data"] = data
            document["outputs"].append(tensor)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if not chunks:
            return Answer(body, JSON)
        headers = {"Inference-Header-Content-Length": str(len(body))}
        return Answer(body + b"".join(chunks), "application/octet-stream", headers)

    def _header(self, model: ModelIdentity) -> dict:
        document: dict[str, Any] = {"model_name": model.name}
        if model.version:
            document["model_version"] = model.version
        if self.request_id is not None:
            document["id"] = self.request_id
        return document


@dataclass(frozen=True)
class TorchServeGrpcBridge(OpenInference):
    """A `ModelInfer` call through TorchServe's OIP gRPC service (see the module docstring)."""

    name = "open-inference-grpc"

    def _header(self, model: ModelIdentity) -> dict:
        return {"id": self.request_id or "", "model_name": model.name, "model_version": model.version}

    def error_body(self, error: ServingError, model: ModelIdentity) -> bytes:
        message = f"{error.status} {type(error).__name__}: {error.message}"
        document = self._header(model)
        document["outputs"] = [{"name": "error", "datatype": "BYTES", "shape": [1], "data": [message]}]
        return ascii_json(document)


TORCHSERVE_GRPC = TorchServeGrpcBridge()
"""The adapter's hint for a request from TorchServe's OIP gRPC service, before its body is read."""


def error_protocol(document: Any, bridge: bool) -> OpenInference:
    """What answers an error found while decoding `document` (the bridge echoes the request's id)."""
    request_id = document.get("id") if isinstance(document, dict) else None
    return TorchServeGrpcBridge(request_id if isinstance(request_id, str) else None) if bridge else OpenInference()


def recognises(document: Any) -> bool:
    """OIP's `inputs` is a list of tensor objects; our own `{"inputs": [...]}` is a list of strings."""
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        return False
    return bool(document["inputs"]) and isinstance(document["inputs"][0], dict)


def split_binary(body: bytes, headers: dict[str, str]) -> tuple[bytes, bytes | None]:
    """`(json, binary)`: with `Inference-Header-Content-Length`, the body is that much JSON, then raw tensors."""
    value = headers.get(BINARY_HEADER)
    if value is None:
        return body, None
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not ASCII_DIGITS.fullmatch(value.strip()) or int(value) > len(body):
        raise InvalidInput(
            "header Inference-Header-Content-Length must be a byte count within the body (binary tensor extension)"
        )
    length = int(value)
    return body[:length], body[length:]


def decode(
    document: dict, max_texts: int | None, binary: bytes | None = None, bridge: bool = False
) -> tuple[tuple[Item, ...], RequestParameters, OpenInference]:
    """`(texts, parameters, protocol)` of an OIP request; `InvalidInput` names the field, never the text."""
    allowed = BRIDGE_FIELDS if bridge else REQUEST_FIELDS
    unknown = sorted(set(document) - set(allowed))
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown field(s): {names}; an inference request allows: {', '.join(allowed)}")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, got {type_name(request_id)}")
    if request_id is not None:
        _check_echoable(request_id)
    inputs = document["inputs"]
    if binary is not None and len(inputs) != 1:
        raise InvalidInput("text pairs ('text' and 'text_pair' tensors) are sent as JSON data, not binary tensors")
    texts = items_from_tensors(inputs, lambda tensor: _texts(tensor, max_texts, binary, bridge))
    raw = document.get("parameters")
    binary_output = isinstance(raw, dict) and _flag(raw.get("binary_data_output", False), "binary_data_output")
    parameters = parameters_from(raw, also_supported=("binary_data_output",))
    outputs = _outputs(document.get("outputs"), binary_output, parameters.return_all_scores)
    if any(output.name == "scores" for output in outputs):
        parameters = RequestParameters(parameters.top_k, return_all_scores=True)
    kind = TorchServeGrpcBridge if bridge else OpenInference
    return texts, parameters, kind(request_id, outputs, parameters.top_k)


def _check_echoable(request_id: str) -> None:
    """The answer echoes `id` as UTF-8: a lone surrogate (JSON `"\\ud800"`) would fail the encoder after the work."""
    try:
        request_id.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(
            f"'id' has an unpaired UTF-16 surrogate at character {error.start} (a lone \\\\u escape)"
        ) from None


def _texts(tensor: Any, max_texts: int | None, binary: bytes | None, bridge: bool) -> tuple[str, ...]:
    if not isinstance(tensor, dict):
        raise InvalidInput(f"inputs[0] must be a tensor object, got {type_name(tensor)}")
    unknown = sorted(set(tensor) - set(TENSOR_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown tensor field(s): {', '.join(quote_name(name) for name in unknown[:5])}")
    if tensor.get("datatype") != "BYTES":
        raise InvalidInput(f"input datatype must be BYTES (UTF-8 texts), got {quote_name(tensor.get('datatype'))}")
    count = _element_count(tensor.get("shape"), max_texts)
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict) or set(parameters) - {"binary_data_size"}:
        raise InvalidInput("the only input tensor parameter supported is binary_data_size (binary tensor extension)")
    if "binary_data_size" in parameters:
        texts = _binary_texts(binary, parameters["binary_data_size"], max_texts)
    elif "data" not in tensor:
        raise InvalidInput("input tensor has no 'data' (and no binary_data_size)")
    else:
        texts = _flatten(tensor["data"], max_texts)
        if bridge:
            texts = [_from_base64(text, index) for index, text in enumerate(texts)]
    if binary and "binary_data_size" not in parameters:
        raise InvalidInput("the body has binary data but no input declares binary_data_size")
    if len(texts) != count:
        raise InvalidInput(f"input has {len(texts)} elements but its shape holds {count}")
    return tuple(texts)


def _element_count(shape: Any, max_texts: int | None) -> int:
    if not isinstance(shape, list) or not all(type(dim) is int and dim >= 0 for dim in shape):
        raise InvalidInput("input 'shape' must be a list of non-negative integers")
    if 0 in shape:
        return 0
    count = 1
    for dim in shape:  # checked as it grows: a shape of [10**12] must not become a loop or an allocation
        count *= dim
        check_text_count(count, max_texts)
    return count


def _flatten(data: Any, max_texts: int | None) -> list[str]:
    """Row-major elements of flat or nested `data`; a single string is one element (KServe's samples)."""
    if isinstance(data, str):
        return [data]
    texts: list[str] = []
    stack = [iter(data)] if isinstance(data, list) else None
    if stack is None:
        raise InvalidInput(f"input 'data' must be a list of strings, got {type_name(data)}")
    while stack:
        item = next(stack[-1], stack)
        if item is stack:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        elif isinstance(item, str):
            texts.append(item)
            check_text_count(len(texts), max_texts)
        else:
            raise InvalidInput(f"input data element {len(texts)} must be a string, got {type_name(item)}")
    return texts


def _binary_texts(binary: bytes | None, size: Any, max_texts: int | None) -> list[str]:
    if binary is None or type(size) is not int or size != len(binary):
        raise InvalidInput("binary_data_size must equal the bytes after the JSON (Inference-Header-Content-Length)")
    texts, offset = [], 0
    while offset < len(binary):
        if offset + 4 > len(binary):
            raise InvalidInput(f"binary input is cut short at byte {offset}")
        (length,) = struct.unpack_from("<I", binary, offset)
        start, offset = offset + 4, offset + 4 + length
        if offset > len(binary):
            raise InvalidInput(f"binary input element {len(texts)} runs past the end of the body")
        texts.append(_utf8(binary[start:offset], len(texts)))
        check_text_count(len(texts), max_texts)
    return texts


def _from_base64(text: str, index: int) -> str:
    try:
        return _utf8(base64.b64decode(text, validate=True), index)
    except binascii.Error:
        raise InvalidInput(f"input element {index} is not base64 (TorchServe's gRPC bridge encodes bytes)") from None


def _utf8(raw: bytes, index: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"input element {index} is not valid UTF-8 (invalid byte at offset {error.start})") from None


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"parameter '{name}' must be true or false")
    return value


def _outputs(requested: Any, binary_output: bool, all_scores: bool) -> tuple[RequestedOutput, ...]:
    if requested is None:
        names = (*DEFAULT_OUTPUTS, "scores") if all_scores else DEFAULT_OUTPUTS
        return tuple(RequestedOutput(name, binary_output) for name in names)
    if not isinstance(requested, list) or not requested:
        raise InvalidInput("'outputs' must be a non-empty list of {\"name\": ...} objects")
    return tuple(_output(item, index, binary_output) for index, item in enumerate(requested))


def _output(item: Any, index: int, binary_output: bool) -> RequestedOutput:
    name = item.get("name") if isinstance(item, dict) else None
    if name not in OUTPUT_TYPES:
        raise InvalidInput(f"outputs[{index}] must name one of: {', '.join(OUTPUT_TYPES)}; got {quote_name(name)}")
    parameters = item.get("parameters") or {}
    if not isinstance(parameters, dict) or set(parameters) - {"binary_data"} or set(item) - {"name", "parameters"}:
        raise InvalidInput(f"outputs[{index}]: the only output parameter supported is binary_data")
    return RequestedOutput(name, _flag(parameters.get("binary_data", binary_output), "binary_data"))


def _tensor(name: str, results: list[dict], top_k: int | None) -> tuple[str, list[int], list]:
    """`(datatype, shape, row-major data)` of one output tensor."""
    if name == "scores":
        labels = len(results[0]["scores"])
        rows = [[0.0] * labels for _ in results]
        for row, result in zip(rows, results, strict=True):
            for entry in result["scores"]:
                row[entry["label_id"]] = entry["score"]
        return "FP32", [len(results), labels], [score for row in rows for score in row]
    if top_k is None:
        return OUTPUT_TYPES[name], [len(results)], [result[name] for result in results]
    ranked = [(result.get("scores") or [result])[:top_k] for result in results]
    return OUTPUT_TYPES[name], [len(results), len(ranked[0])], [entry[name] for row in ranked for entry in row]


def _to_bytes(datatype: str, data: list) -> bytes:
    if datatype == "BYTES":
        encoded = [text.encode("utf-8") for text in data]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    return struct.pack(f"<{len(data)}{PACK[datatype]}", *data)
