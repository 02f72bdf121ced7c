"""`python -m training.choices`: the measurements behind the default training settings
(docs/reports/training-choices.md).

    python -m training.choices accuracy             # one full run per candidate: held-out accuracy
    python -m training.choices cost                 # single-thread cost of each candidate on this CPU
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 python -m training.choices cost
    python -m training.choices render               # docs/reports/training-choices.md from what was measured

Accuracy: the candidate trained on the real split (seed, corpus and loop of `training.train`), then the held-out
articles classified at the training length and through the serving core in fp32 with the shipped settings.
Cost: CPU-seconds on one thread (which other load on a shared machine barely changes) of the frozen layers'
pass per article and of a training step, each measured on a sample of the training articles and scaled to the
whole run. The environment variables above make oneDNN, MKL and ATen use AVX2 only, as on a CPU without AVX-512.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .loop import DEFAULTS, Hyperparameters, autocast, fine_tune, lower_states, seed_everything, upper_forward

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "reports" / "training-choices.json"
REPORT = ROOT / "docs" / "reports" / "training-choices.md"
CHOSEN = DEFAULTS
BASE = replace(CHOSEN, epochs=2, max_length=128, lr=1e-4, frozen_layers=0)
"""The settings before the training choices were measured: every layer, two epochs of 128 tokens."""
TOP_ONLY = replace(CHOSEN, epochs=2, lr=5e-4, frozen_layers=5)
CANDIDATES = {
    "all layers, 128 tokens, 2 epochs (before)": BASE,
    "frozen 4, 64 tokens, 1 epoch (the default)": CHOSEN,
    "frozen 5, 64 tokens, 2 epochs": TOP_ONLY,
    "frozen 5, 64 tokens, 2 epochs, bf16 autocast": replace(TOP_ONLY, precision="bf16"),
    "frozen 4, 64 tokens, 2 epochs": replace(CHOSEN, epochs=2),
    "frozen 5, 128 tokens, 1 epoch": replace(TOP_ONLY, max_length=128, epochs=1),
}
SAMPLE_ARTICLES = 128
SAMPLE_STEPS = 8


@dataclass
class Cost:
    """Single-thread CPU-seconds of one candidate's fine-tuning on this CPU, scaled from a sample."""

    isa: str
    lower_pass_seconds: float
    step_seconds: float
    steps: int

    @property
    def total_seconds(self) -> float:
        return self.lower_pass_seconds + self.steps * self.step_seconds


def measure_cost(params: Hyperparameters, texts: list[str], labels: list[int], names: list[str]) -> Cost:
    """The frozen layers' pass over `SAMPLE_ARTICLES` articles and `SAMPLE_STEPS` training steps (after one
    unmeasured step), scaled to `texts`."""
    from torch.nn import functional

    from .model_io import load_base_model, load_tokenizer, packaged_base_model

    torch.set_num_threads(1)
    base = packaged_base_model()
    tokenizer, model = load_tokenizer(base), load_base_model(base, names)
    ids = tokenizer(texts, truncation=True, max_length=params.max_length)["input_ids"]
    k, lower = params.frozen_layers, 0.0
    if k:
        started = time.process_time()
        with autocast(params.precision):
            states = lower_states(model, tokenizer, ids[:SAMPLE_ARTICLES], k)
        lower = (time.process_time() - started) / SAMPLE_ARTICLES * len(texts)
    model.train()
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=params.lr)
    seconds = []
    for step in range(SAMPLE_STEPS + 1):
        batch = list(range(step * params.batch_size, (step + 1) * params.batch_size))
        started = time.process_time()
        with autocast(params.precision):
            if k:
                logits = upper_forward(model, [states[i % len(states)] for i in batch], k)
            else:
                logits = model(**tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")).logits
        functional.cross_entropy(logits.float(), torch.tensor([labels[i] for i in batch])).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.process_time() - started)
    steps = params.epochs * -(-len(texts) // params.batch_size)
    return Cost(torch.backends.cpu.get_cpu_capability(), lower, sorted(seconds[1:])[SAMPLE_STEPS // 2], steps)


def measure_accuracy(params: Hyperparameters, split) -> dict:
    """Train on the split, then held-out accuracy at the training length and served (fp32, shipped settings)."""
    import tempfile

    from .model_io import load_base_model, load_tokenizer, packaged_base_model, predict_logits, save_model
    from .record import serving_accuracy
    from .train import SERVING_CONFIG

    seed_everything(params.seed)
    base = packaged_base_model()
    tokenizer, model = load_tokenizer(base), load_base_model(base, split.labels)
    loop = fine_tune(model, tokenizer, [a.text for a in split.train], split.label_ids(split.train), params)
    logits = predict_logits(model, tokenizer, [a.text for a in split.test], params.max_length)
    truth = torch.tensor(split.label_ids(split.test))
    with tempfile.TemporaryDirectory() as folder:
        save_model(model, tokenizer, base, Path(folder))
        served = serving_accuracy(Path(folder), split, SERVING_CONFIG, precisions=("fp32",))["results"][0]
    return {
        "held_out": float((logits.argmax(-1) == truth).float().mean()),
        "served": served["accuracy"],
        "fine_tuning_seconds": loop.seconds,
    }


def render(results: dict) -> str:
    """docs/reports/training-choices.md from the saved measurements."""
    isas = sorted({isa for entry in results.values() for isa in entry.get("cost", {})})
    header = ["candidate", "held-out (training length)", "held-out served (fp32, 256 tokens)"]
    header += [f"CPU-s, 1 thread, {isa}" for isa in isas]
    rows, notes = [], []
    for name, entry in results.items():
        accuracy = entry.get("accuracy") or {}
        if accuracy.get("source"):
            notes.append(f"{name}: accuracy from {accuracy['source']}, not measured again.")
        cells = [name, _percent(accuracy.get("held_out")), _percent(accuracy.get("served"))]
        cells += [f"{entry['cost'][isa]['total_seconds']:.0f}" if isa in entry.get("cost", {}) else "–" for isa in isas]
        rows.append(cells)
    lines = [
        "# How the default training settings were chosen",
        "",
        "Produced by `python -m training.choices` (its docstring has the commands; raw numbers in "
        "`training-choices.json`). CPU-seconds are the fine-tuning phase alone on one thread, scaled from a sample; "
        "with two cores the wall time is roughly half of it, with any other load on the machine on top. On a "
        "shared machine CPU-seconds move too (caches and cores are shared): repeat a measurement before trusting a "
        "small difference.",
        "",
        "The default is the cheapest candidate on the AVX2-only CPU whose held-out accuracy is at least that of the "
        "settings before. Whatever is trained, the held-out articles are then classified through the serving core "
        "(`make model` writes that to the model card), which costs the same for every candidate.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        *notes,
        *([""] if notes else []),
        "Settings of each candidate:",
        "",
        *(f"- {name}: `{json.dumps(entry['hyperparameters'])}`" for name, entry in results.items()),
        "",
    ]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.choices", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("accuracy", "cost", "render"))
    parser.add_argument("--only", help="one candidate's name")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    if args.what == "render":
        REPORT.write_text(render(results), encoding="utf-8")
        print(f"wrote {REPORT}")
        return 0
    from .corpus import load_split

    split = load_split(0.15, BASE.seed)
    texts, labels = [a.text for a in split.train], split.label_ids(split.train)
    for name, params in CANDIDATES.items():
        if args.only and name != args.only:
            continue
        entry = results.setdefault(name, {"hyperparameters": asdict(params), "cost": {}})
        if args.what == "cost":
            cost = measure_cost(params, texts, labels, split.labels)
            entry["cost"][cost.isa] = asdict(cost) | {"total_seconds": cost.total_seconds}
        else:
            entry["accuracy"] = measure_accuracy(params, split)
        print(name, json.dumps(entry), file=sys.stderr, flush=True)
        # Re-read and merge: runs for other candidates or ISAs may write the same file meanwhile.
        merged = json.loads(args.results.read_text()) if args.results.is_file() else {}
        merged.setdefault(name, {"hyperparameters": entry["hyperparameters"], "cost": {}})
        merged[name]["cost"] |= entry["cost"]
        if "accuracy" in entry:
            merged[name]["accuracy"] = entry["accuracy"]
        args.results.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
