"""Request decoding and response encoding, one module per payload kind.

`decode_request` turns a body (bytes, str, or JSON already parsed by the model server) and its Content-Type
into a `ParsedRequest`; `encode_results` turns results into a body for the negotiated `Accept` type.
"""

from .negotiation import choose_response_format, media_type
from .parameters import RequestParameters
from .protocol import NATIVE, UNNAMED_MODEL, Answer, ModelIdentity, Protocol
from .request import ParsedRequest, decode_request
from .response import encode_results

__all__ = [
    "NATIVE",
    "UNNAMED_MODEL",
    "Answer",
    "ModelIdentity",
    "ParsedRequest",
    "Protocol",
    "RequestParameters",
    "choose_response_format",
    "decode_request",
    "encode_results",
    "media_type",
]
