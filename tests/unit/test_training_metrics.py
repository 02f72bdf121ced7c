"""training.metrics: held-out metrics as plain numbers."""

from __future__ import annotations

import pytest

from training.metrics import classification_metrics

pytestmark = pytest.mark.unit


def test_classification_metrics_counts_and_per_class_scores():
    labels = ["a", "b", "c"]
    metrics = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], labels)

    assert metrics["accuracy"] == 0.75
    assert metrics["errors"] == 1
    assert metrics["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert metrics["per_class"]["b"]["precision"] == 0.5
    assert metrics["macro_f1"] == pytest.approx((0.6667 + 0.6667 + 1.0) / 3, abs=1e-4)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
