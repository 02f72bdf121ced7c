"""Held-out classification metrics (scikit-learn), as plain JSON-ready numbers."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score


def classification_metrics(true_ids: Sequence[int], predicted_ids: Sequence[int], labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Class ids index `labels`; every label is reported even if it never occurs in `true_ids`.
    Confusion matrix rows are true labels, columns predicted labels, both in `labels` order.
    """
    class_ids = list(range(len(labels)))
    report = classification_report(
        true_ids, predicted_ids, labels=class_ids, target_names=list(labels), output_dict=True, zero_division=0
    )
    per_class = {
        label: {
            "precision": round(report[label]["precision"], 4),
            "recall": round(report[label]["recall"], 4),
            "f1": round(report[label]["f1-score"], 4),
            "support": int(report[label]["support"]),
        }
        for label in labels
    }
    matrix = confusion_matrix(true_ids, predicted_ids, labels=class_ids)
    return {
        "accuracy": round(float(accuracy_score(true_ids, predicted_ids)), 4),
        "macro_f1": round(float(f1_score(true_ids, predicted_ids, labels=class_ids, average="macro")), 4),
        "examples": len(true_ids),
        "errors": int(sum(t != p for t, p in zip(true_ids, predicted_ids, strict=True))),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }
