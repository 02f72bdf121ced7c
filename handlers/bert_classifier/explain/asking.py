"""How a SageMaker client asks for an explanation: SageMaker endpoints have one route (/invocations) and pass on
one free-form header, so the ask is `explain=true` in `X-Amzn-SageMaker-Custom-Attributes` (boto3:
`invoke_endpoint(..., CustomAttributes="explain=true")`). Items are `key=value`, separated by `;` or `,`."""

from __future__ import annotations

import re

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
"""The header's name, lower case (compare names case-insensitively)."""
_ITEMS = re.compile(r"[;,]")


def custom_attributes_ask(value: str | None) -> bool:
    """Whether a Custom-Attributes value holds `explain=true` (any case, spaces around either side allowed)."""
    for item in _ITEMS.split(value or ""):
        key, _, setting = item.partition("=")
        if key.strip().lower() == "explain" and setting.strip().lower() == "true":
            return True
    return False
