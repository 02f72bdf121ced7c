"""MODEL_CARD.md: a short human-readable summary of one training run, rendered from its metrics record."""

from __future__ import annotations

from tools.accuracy_gate import MAX_LOSS_POINTS as BOUND_POINTS  # one bound for bf16 and the gate


def render_model_card(record: dict) -> str:
    """Markdown for the `training_metrics.json` record written by `training.train` (same numbers)."""
    held_out = record["held_out"]
    sections = [
        "# BBC News topic classifier (BERT)\n",
        _overview(record),
        _data_table(record["data"]),
        _hyperparameters(record["hyperparameters"]),
        _results(held_out),
        _serving(record.get("serving")),
        _timing_and_machine(record["timing"], record["machine"], record["hyperparameters"]),
    ]
    return "\n".join(sections)


def _overview(record: dict) -> str:
    base = record["base_model"]
    return (
        f"- Base model: `{base['name']}` ({base['source']})\n"
        f"- Architecture: BertForSequenceClassification, labels: {', '.join(record['labels'])}\n"
        f"- Data: {record['data']['corpus']}, {record['data']['articles']} articles\n"
        f"- Held-out accuracy: **{record['held_out']['accuracy']:.2%}**, "
        f"macro-F1: **{record['held_out']['macro_f1']:.4f}**\n"
        f"- Input: the first {record['hyperparameters']['max_length']} tokens of headline + article\n"
    )


def _data_table(data: dict) -> str:
    rows = [
        f"| {label} | {data['train_per_class'][label]} | {data['test_per_class'][label]} |"
        for label in data["train_per_class"]
    ]
    total = f"| **total** | {sum(data['train_per_class'].values())} | {sum(data['test_per_class'].values())} |"
    return "\n".join(
        [
            f"## Split (stratified, seed {data['split_seed']}, held-out fraction {data['test_size']})\n",
            "| label | train | held-out |",
            "|---|---:|---:|",
            *rows,
            total,
            "",
            "The held-out articles are listed in `split.json`; they were never seen in training.\n",
        ]
    )


def _hyperparameters(hyperparameters: dict) -> str:
    lines = [f"- {name}: {value}" for name, value in hyperparameters.items()]
    why = (
        f"The embeddings and the lower {hyperparameters['frozen_layers']} encoder layers keep the base model's "
        "weights; their output is computed once and only the layers above, the pooler and the head train. "
        if hyperparameters.get("frozen_layers")
        else ""
    )
    why += (
        "The defaults were chosen by measuring accuracy and training time of candidate settings on CPUs with and "
        "without AVX-512: see docs/reports/training-choices.md in the repository.\n"
    )
    return "\n".join(["## Hyperparameters\n", *lines, "", why])


def _results(held_out: dict) -> str:
    rows = [
        f"| {label} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} | {scores['support']} |"
        for label, scores in held_out["per_class"].items()
    ]
    return "\n".join(
        [
            "## Held-out results\n",
            f"Accuracy {held_out['accuracy']:.4f} ({held_out['errors']} errors in {held_out['examples']}), "
            f"macro-F1 {held_out['macro_f1']:.4f}.\n",
            "| label | precision | recall | F1 | support |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )


def _serving(serving: dict | None) -> str:
    """How the served model scores in each precision the handler can run here (the fast path's bound)."""
    if not serving:
        return ""
    rows = [
        f"| {r['precision']} | {r['dtype']} | {r['correct']}/{r['total']} | {r['accuracy']:.2%} |"
        for r in serving["results"]
    ]
    lines = [
        "## Serving precision\n",
        f"The {serving['source']} through the serving core (`TextClassifier`) with the shipped handler settings "
        f"(max_length {serving['max_length']}, {serving['long_text']}), once per precision:\n",
        "| precision | ran as | correct | accuracy |",
        "|---|---|---:|---:|",
        *rows,
        "",
    ]
    if len(serving["results"]) > 1:
        within = abs(serving["delta_points"]) <= BOUND_POINTS
        lines.append(
            f"bf16 − fp32: {serving['delta_points']:+.2f} points ({'within' if within else 'outside'} the "
            f"±{BOUND_POINTS} bound); the same top label for {serving['agreement']:.2%} of the articles; largest "
            f"score difference {serving['max_score_difference']:.4f}. On this CPU `precision: auto` makes torch bf16 a "
            "candidate of the start-up probe, next to fp32, which serves the fastest (docs/engines.md).\n"
        )
    else:
        lines.append(
            "This CPU has no native bf16, so the torch engine serves fp32 under `precision: auto` and bf16 was not "
            "measured.\n"
        )
    return "\n".join(lines)


def _timing_and_machine(timing: dict, machine: dict, hyperparameters: dict) -> str:
    frozen = hyperparameters.get("frozen_layers", 0)
    lower = (
        f"of which {timing['lower_pass_seconds']:.0f} s for the one pass through the {frozen} frozen layers, then "
        f"{timing['seconds_per_step']:.2f} s a step; "
        if frozen
        else f"{timing['seconds_per_step']:.2f} s a step; "
    )
    instructions = ", ".join(machine.get("instructions", [])) or "none listed"
    return (
        "## Training time and machine\n\n"
        f"- Fine-tuning: {timing['train_seconds']:.0f} s ({timing['train_seconds'] / 60:.1f} min) wall clock, "
        f"{lower}{timing['train_cpu_seconds']:.0f} CPU-seconds; "
        f"whole run: {timing['total_seconds']:.0f} s ({timing['total_seconds'] / 60:.1f} min)\n"
        f"- Machine: {machine.get('cpu', '?')}, {machine['cpu_count']} CPU cores ({instructions}; torch CPU "
        f"capability {machine.get('torch_cpu_capability', '?')}), torch {machine['torch']}, transformers "
        f"{machine['transformers']}, training precision {machine['precision']}\n"
    )
