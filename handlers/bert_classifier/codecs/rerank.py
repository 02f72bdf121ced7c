"""Reranking: `{"query": q, "documents": [d, ...], "top_n": k, "return_documents": bool}` (`texts` may name the
documents, as text-embeddings-inference's clients send them; Cohere's clients also send `model`, which the URL
decides here) scores the pair `(q, d)` for every document and answers `{"results": [{"index", "score"
[, "document"]}, ...]}`, best first, cut at `top_n`.

A request is recognised by its `query` field, on any route that takes our JSON contract (`/predictions/<model>`,
SageMaker's `/invocations`). The score that ranks is a one-logit cross-encoder's sigmoid; for a model with more
labels, the score of its `rerank_label` setting's label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, NotSupported, quote_name
from .json_body import type_name
from .limits import check_text_count
from .negotiation import JSON
from .parameters import RequestParameters
from .protocol import Answer, ModelIdentity, Protocol
from .response import encode_json

DOCUMENT_FIELDS = ("documents", "texts")
ALLOWED_FIELDS = ("query", *DOCUMENT_FIELDS, "top_n", "return_documents", "model")


@dataclass(frozen=True)
class Rerank(Protocol):
    """Answers a rerank request: what it asked for, and which label's score ranks."""

    documents: tuple[str, ...] = ()
    top_n: int | None = None
    return_documents: bool = False
    rerank_label: str | None = None
    name = "rerank"
    response_types = (JSON,)

    def encode(self, results: list[dict], single: bool, response_format: str, model: ModelIdentity) -> Answer:
        scores = [self._score(result) for result in results]
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: self.top_n]
        entries = [{"index": i, "score": scores[i]} for i in ranked]
        if self.return_documents:
            for entry in entries:
                entry["document"] = self.documents[entry["index"]]
        return Answer(encode_json({"results": entries}), JSON, ranked=len(results))

    def _score(self, result: dict) -> float:
        """The ranking score of one document's result (all its labels' scores: `return_all_scores`)."""
        entries = result.get("scores") or [result]
        if len(entries) == 1:
            return entries[0]["score"]
        if not self.rerank_label:
            raise NotSupported(
                f"this model has {len(entries)} labels: reranking needs the handler setting rerank_label, the label "
                "whose score ranks the documents"
            )
        return next(entry["score"] for entry in entries if entry["label"] == self.rerank_label)


def recognises(document: Any) -> bool:
    """A JSON object with a `query` field is a rerank request (no other contract has one)."""
    return isinstance(document, dict) and "query" in document


def decode(
    document: dict, max_texts: int | None, rerank_label: str | None
) -> tuple[tuple[str, ...], tuple[str, ...], RequestParameters, Rerank]:
    """`(queries, documents, parameters, protocol)`: the query once per document, so that each document is scored
    as the pair (query, document). Errors name the field or document index, never the text."""
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown field(s): {names}; a rerank request allows: {', '.join(ALLOWED_FIELDS)}")
    query = document["query"]
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("'query' must be a non-empty string")
    documents = _documents(document, max_texts)
    top_n = document.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidInput("'top_n' must be a positive integer")
    return_documents = document.get("return_documents", False)
    if not isinstance(return_documents, bool):
        raise InvalidInput("'return_documents' must be true or false")
    protocol = Rerank(documents, top_n, return_documents, rerank_label or None)
    return (query,) * len(documents), documents, RequestParameters(return_all_scores=True), protocol


def _documents(document: dict, max_texts: int | None) -> tuple[str, ...]:
    present = [name for name in DOCUMENT_FIELDS if name in document]
    if len(present) != 1:
        raise InvalidInput("a rerank request needs exactly one of the fields 'documents' or 'texts'")
    name, documents = present[0], document[present[0]]
    if not isinstance(documents, list) or not documents:
        raise InvalidInput(f"'{name}' must be a non-empty list of strings")
    check_text_count(len(documents), max_texts)
    for index, text in enumerate(documents):
        if not isinstance(text, str):
            raise InvalidInput(f"{name}[{index}] must be a string, got {type_name(text)}")
        if not text.strip():
            raise InvalidInput(f"{name}[{index}] is empty")
    return tuple(documents)
