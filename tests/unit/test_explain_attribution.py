"""`explain.attribution`: integrated gradients that add up (completeness), repeat exactly, and run in fp32."""

from __future__ import annotations

import pytest
import torch

from bert_classifier.explain.attribution import Attributor, choose_baseline
from bert_classifier.explain.words import read_text
from bert_classifier.model import TextClassifier
from bert_classifier.settings import Settings
from tests.conftest import save_tiny_bert

pytestmark = pytest.mark.unit

TEXT = "Markets rallied after strong earnings from chip makers."


@pytest.fixture(scope="module")
def sharp_bert_dir(tmp_path_factory):
    """A tiny BERT with larger random weights than the shared one, so its scores differ between texts (the
    shared one scores every text about 1/3 for each label, which leaves nothing to attribute)."""
    return save_tiny_bert(tmp_path_factory.mktemp("sharp-bert"), initializer_range=0.2)


@pytest.fixture(scope="module")
def classifier(sharp_bert_dir) -> TextClassifier:
    return TextClassifier.load(sharp_bert_dir, Settings(precision="fp32"))


@pytest.fixture(scope="module")
def attributor(classifier) -> Attributor:
    return Attributor.for_classifier(classifier, 64)


def token_ids(classifier, text: str = TEXT) -> tuple[int, ...]:
    return read_text(classifier.tokenizer, text, 64).token_ids


@pytest.mark.parametrize("target", [0, 1, 2])
def test_attributions_add_up_to_the_log_score_difference_from_the_baseline(classifier, attributor, target):
    result = attributor.attribute(token_ids(classifier), target, steps=32)

    difference = result.log_probability - result.baseline_log_probability
    assert abs(difference) > 0.05  # something to explain
    assert sum(result.values) == pytest.approx(difference, abs=1e-3 * abs(difference))
    assert abs(result.delta) < 1e-3 * abs(difference)  # Captum's own measure of the same
    assert sum(result.values) - difference == pytest.approx(result.delta, abs=1e-5)


def test_first_and_last_positions_are_kept_by_the_baseline_and_get_exactly_nothing(classifier, attributor):
    result = attributor.attribute(token_ids(classifier), 0, steps=8)

    assert result.values[0] == 0.0
    assert result.values[-1] == 0.0
    assert len(result.values) == len(token_ids(classifier))


def test_the_same_text_gets_the_same_attributions_twice(classifier, attributor):
    first = attributor.attribute(token_ids(classifier), 1, steps=16)
    second = attributor.attribute(token_ids(classifier), 1, steps=16)

    assert first == second


def test_the_log_score_at_the_text_is_the_log_of_the_classifiers_score(classifier, attributor):
    [served] = classifier.classify([TEXT])[0]
    result = attributor.attribute(token_ids(classifier), 2, steps=4)

    assert torch.tensor(result.log_probability).exp().item() == pytest.approx(served.scores[2], abs=1e-5)
    assert attributor.probabilities(token_ids(classifier)) == pytest.approx(list(served.scores), abs=1e-5)


def test_a_half_precision_classifier_is_explained_by_an_fp32_copy_of_its_own_weights(sharp_bert_dir):
    served = TextClassifier.load(sharp_bert_dir, Settings(precision="bf16"))

    attributor = Attributor.for_classifier(served, 64)

    assert attributor.model is not served.model
    assert next(attributor.model.parameters()).dtype == torch.float32
    assert next(served.model.parameters()).dtype == torch.bfloat16  # predictions keep their precision
    weights = served.model.get_input_embeddings().weight
    assert torch.equal(attributor.model.get_input_embeddings().weight, weights.float())
    assert not any(parameter.requires_grad for parameter in attributor.model.parameters())


class ScriptedScores:
    """An attributor whose score for an all-`token` text is given per token."""

    def __init__(self, peaks: dict[int, float]) -> None:
        self.peaks = peaks

    def probabilities(self, ids):
        peak = self.peaks[ids[1]]
        return [peak, 1 - peak]


def test_the_baseline_is_the_candidate_the_model_scores_most_evenly(classifier):
    vocabulary = classifier.tokenizer.get_vocab()
    peaks = {vocabulary["[PAD]"]: 0.97, vocabulary["[UNK]"]: 0.8, vocabulary["[MASK]"]: 0.9}
    peaks |= {vocabulary["."]: 0.6, vocabulary[","]: 0.7}

    assert choose_baseline(ScriptedScores(peaks), classifier.tokenizer, 64) == vocabulary["."]


def test_when_another_engine_serves_the_archives_torch_weights_are_loaded_in_fp32(sharp_bert_dir):
    """With ONNX Runtime serving, the classifier holds no torch model: explanations load the saved one."""
    served = TextClassifier.load(sharp_bert_dir, Settings(precision="fp32"))
    saved = served.model.get_input_embeddings().weight.detach().clone()
    served.model = None

    attributor = Attributor.for_classifier(served, 64)

    assert next(attributor.model.parameters()).dtype == torch.float32
    assert torch.equal(attributor.model.get_input_embeddings().weight, saved)
