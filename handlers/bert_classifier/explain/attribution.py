"""Integrated gradients of one label's log-probability over the word embeddings (Captum), in fp32.

Explanations run the model's own forward (the Hugging Face module, one text, no packing) in fp32 arithmetic,
whatever `engine`, `precision` and `packing` predictions use: gradients through bf16/fp16 activations are too
coarse to integrate. The weights are the served ones (a bf16-served model is copied and cast up once, at the first
explanation), so what is explained is the function that serves predictions, computed in fp32; when ONNX Runtime
serves, the archive's torch weights (which its ONNX export was made from) are loaded for explanations.

What is integrated: the target label's log-probability (log-softmax; log-sigmoid for multi-label models), from
a baseline text to the text, along a straight line in word-embedding space (`LayerIntegratedGradients` on the
input embeddings, Gauss-Legendre points). The baseline keeps [CLS], [SEP] and every position, and replaces each
word piece by one token, chosen per model as the one whose baseline text the model finds least informative (see
`choose_baseline`). Completeness: the attributions add up to log p(label | text) - log p(label | baseline), up to
the convergence delta Captum reports.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..model import load_torch_model

log = logging.getLogger(__name__)

BASELINE_CANDIDATES = ("[PAD]", "<pad>", "[UNK]", "<unk>", "[MASK]", "<mask>", ".", ",")
"""Tokens a baseline text may be made of: padding, unknown, mask and the two commonest punctuation marks."""
BASELINE_PROBE_LENGTHS = (16,)
"""Lengths (besides the longest explained text) at which a baseline candidate is scored."""
TOKENS_PER_PASS = 4096
"""Interpolation points are run through the model in groups of up to this many tokens (16 points of a 256-token
text): it bounds the activations a backward pass keeps (about ... MB for the default model)."""


@dataclass(frozen=True)
class TokenAttributions:
    """One text's attribution per model input position, the convergence delta, and the integrated output (the
    target's log-probability) at the text and at the baseline."""

    values: tuple[float, ...]
    delta: float
    log_probability: float
    baseline_log_probability: float


class Attributor:
    """Attributes one text at a time to one of its labels; `probabilities` scores a text with the same model."""

    def __init__(self, model, baseline_id: int, multi_label: bool) -> None:
        from captum.attr import LayerIntegratedGradients  # imported on first use: it imports matplotlib

        self.model = model
        self.baseline_id = baseline_id
        self.multi_label = multi_label
        self.device = next(model.parameters()).device
        self._integrated = LayerIntegratedGradients(self._log_probabilities, model.get_input_embeddings())

    @classmethod
    def for_classifier(cls, classifier, max_tokens: int) -> Attributor:
        """An fp32 attributor over `classifier`'s torch model: a copy cast up when it serves in half precision, or
        the archive's own weights loaded afresh when another engine (ONNX Runtime) serves."""
        model = classifier.model
        if model is None:
            model = load_torch_model(classifier.model_dir, classifier.device)
        elif next(model.parameters()).dtype != torch.float32:
            model = copy.deepcopy(model).float()
        model.eval().requires_grad_(False)  # gradients are taken with respect to embeddings, never weights
        # A one-logit model (a cross-encoder) is scored by its sigmoid, as predictions score it.
        sigmoid = classifier.multi_label or len(classifier.labels) == 1
        probe = cls(model, classifier.tokenizer.pad_token_id or 0, sigmoid)
        probe.baseline_id = choose_baseline(probe, classifier.tokenizer, max_tokens)
        return probe

    def probabilities(self, token_ids: Sequence[int], type_ids: Sequence[int] | None = None) -> list[float]:
        """The model's score per label for one text or pair (softmax, or sigmoid for multi-label), in fp32."""
        ids = self._tensor([token_ids])
        types = self._tensor([type_ids]) if type_ids else None
        with torch.no_grad():
            return self._log_probabilities(ids, torch.ones_like(ids), types)[0].exp().tolist()

    def attribute(
        self,
        token_ids: Sequence[int],
        target: int,
        steps: int,
        type_ids: Sequence[int] | None = None,
        special: Sequence[int] = (),
    ) -> TokenAttributions:
        """Attributions of one text, or of a pair (`type_ids`, and the `special` positions its baseline keeps)."""
        ids = self._tensor([token_ids])
        baseline = self.baseline(ids, special)
        mask = torch.ones_like(ids)
        types = self._tensor([type_ids]) if type_ids else None
        with torch.no_grad():
            both = None if types is None else torch.cat([types, types])
            ends = self._log_probabilities(torch.cat([ids, baseline]), torch.cat([mask, mask]), both)[:, target]
        attributions, delta = self._integrated.attribute(
            ids,
            baselines=baseline,
            additional_forward_args=(mask, types),
            target=target,
            n_steps=steps,
            internal_batch_size=max(1, TOKENS_PER_PASS // ids.shape[1]),
            return_convergence_delta=True,
        )
        values = attributions.sum(dim=-1)[0].tolist()  # one number per position: summed over the embedding
        return TokenAttributions(tuple(values), float(delta[0]), float(ends[0]), float(ends[1]))

    def baseline(self, ids: torch.Tensor, special: Sequence[int] = ()) -> torch.Tensor:
        """`ids` with every position but the first and the last (or but the `special` ones) replaced by the
        baseline token."""
        baseline = ids.clone()
        if not special:
            baseline[:, 1:-1] = self.baseline_id
            return baseline
        keep = torch.zeros(ids.shape[1], dtype=torch.bool, device=ids.device)
        keep[list(special)] = True
        baseline[:, ~keep] = self.baseline_id
        return baseline

    def _log_probabilities(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        types = {} if token_type_ids is None else {"token_type_ids": token_type_ids.expand_as(input_ids)}
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **types).logits.float()
        return torch.nn.functional.logsigmoid(logits) if self.multi_label else torch.log_softmax(logits, dim=-1)

    def _tensor(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        return torch.tensor(rows, dtype=torch.long, device=self.device)


def choose_baseline(attributor: Attributor, tokenizer, max_tokens: int) -> int:
    """The candidate token whose baseline text gets the most even scores: the lowest highest-label score, over a
    short text and one of `max_tokens` tokens. A fine-tuned model may find padding anything but neutral (the
    default model scores all-[PAD] 0.97 sport, which would leave sport texts nothing to explain)."""
    vocabulary = tokenizer.get_vocab()
    candidates = [vocabulary[token] for token in BASELINE_CANDIDATES if token in vocabulary]
    edges = (tokenizer.cls_token_id, tokenizer.sep_token_id)
    lengths = sorted({*BASELINE_PROBE_LENGTHS, max_tokens})

    def peak(token_id: int) -> float:
        return max(max(attributor.probabilities([edges[0], *[token_id] * (n - 2), edges[1]])) for n in lengths)

    chosen = min(candidates, key=peak)
    log.info("explanation baseline token: %s", tokenizer.convert_ids_to_tokens(chosen))
    return chosen
