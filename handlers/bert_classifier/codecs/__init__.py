"""Request decoding and response encoding, one module per payload kind.

`decode_request` turns a body (bytes, str, or JSON already parsed by the model server) and its Content-Type
into a `ParsedRequest`; `encode_results` turns results into a body for the negotiated `Accept` type.
"""

from .negotiation import choose_response_format, media_type
from .request import ParsedRequest, RequestParameters, decode_request
from .response import encode_results

__all__ = [
    "ParsedRequest",
    "RequestParameters",
    "choose_response_format",
    "decode_request",
    "encode_results",
    "media_type",
]
