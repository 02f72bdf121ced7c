"""Explanations: which words made the model give a text a label, by integrated gradients (Captum).

`Explainer.explain` answers one decoded request (`ParsedRequest`), text by text: `words` reads the text and
merges word pieces into words with character offsets, `attribution` integrates the gradients in fp32, `result`
formats the answer. The service decodes, negotiates (`result.explanation_format`) and encodes, as for predictions.
"""

from .asking import CUSTOM_ATTRIBUTES, custom_attributes_ask
from .explainer import Explainer, ExplanationBudget
from .pools import check_explanations_allowed
from .result import explanation_format

__all__ = [
    "CUSTOM_ATTRIBUTES",
    "Explainer",
    "ExplanationBudget",
    "check_explanations_allowed",
    "custom_attributes_ask",
    "explanation_format",
]
