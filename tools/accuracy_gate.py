"""The accuracy gate of `make archive`: which engine/precision variants `engine: auto` may choose.

Every variant packed into the archive classifies the model's held-out texts through the serving core with the
archive's handler settings; a variant is eligible when it loses at most `MAX_LOSS_POINTS` points of accuracy
against torch fp32 and gives another top label than torch fp32 for at most `MAX_DISAGREEMENT` of the texts. The
verdicts and numbers go into the archive as `engines.json` (read by the workers) and `ENGINES.md`.

Held-out texts: the model's `split.json` (the default model's held-out BBC articles), or `--held-out FILE` (JSON
lines `{"text": ..., "label": ...}`). Without either, `--gate accept` makes every variant eligible unmeasured
and `--gate skip` packs them but leaves `auto` on torch.
"""

from __future__ import annotations

import json
import platform
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bert_classifier.engines.variants import MANIFEST, ONNX_FILES, TORCH_BF16, TORCH_FP32, Variant

MAX_LOSS_POINTS = 0.5
"""A variant may lose at most this many points of held-out accuracy against torch fp32 (bf16 in the model card
is held to the same bound)."""
MAX_DISAGREEMENT = 0.01
GATE_MODES = ("measure", "accept", "skip")
REPORT = "ENGINES.md"


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    reason: str


def judge(accuracy: float, reference_accuracy: float, agreement: float) -> Verdict:
    """The gate's rule for one variant against torch fp32 (accuracies and agreement as fractions)."""
    loss = 100 * (reference_accuracy - accuracy)
    disagreement = 1 - agreement
    if loss > MAX_LOSS_POINTS + 1e-9:
        return Verdict(False, f"loses {loss:.2f} points (more than {MAX_LOSS_POINTS})")
    if disagreement > MAX_DISAGREEMENT + 1e-9:
        return Verdict(
            False, f"disagrees with torch fp32 on {disagreement:.2%} of texts (more than {MAX_DISAGREEMENT:.0%})"
        )
    return Verdict(
        True, f"within bounds ({100 * (accuracy - reference_accuracy):+.2f} points, {agreement:.2%} agreement)"
    )


def held_out_pairs(model_dir: Path, held_out: Path | None = None) -> tuple[list[tuple[str, str]], str] | None:
    """(text, label) pairs and where they came from, or None when the model has no held-out data."""
    if held_out:
        rows = [json.loads(line) for line in held_out.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(row["text"], row["label"]) for row in rows], f"{len(rows)} texts of {held_out.name}"
    split = model_dir / "split.json"
    if not split.is_file():
        return None
    from training.corpus import read_article

    data = json.loads(split.read_text(encoding="utf-8"))
    items = data.get("test", []) if isinstance(data, dict) else data
    return [(read_article(item["path"]), item["label"]) for item in items], f"{len(items)} held-out articles"


def run_gate(model_dir: Path, onnx_dir: Path, settings: dict, mode: str, held_out: Path | None = None) -> dict:
    """Measure (or accept, or skip) every variant; return the `engines.json` record."""
    from bert_classifier.device import cpu_isa, cpu_supports_bf16
    from training.precision_accuracy import measure_classifiers

    variants = [TORCH_FP32, *([TORCH_BF16] if cpu_supports_bf16() else [])]
    variants += [
        Variant("onnxruntime", precision) for precision in ONNX_FILES if (onnx_dir / ONNX_FILES[precision]).is_file()
    ]
    data = held_out_pairs(model_dir, held_out) if mode == "measure" else None
    if mode == "measure" and data is None:
        raise FileNotFoundError(
            f"{model_dir} has no split.json, so the accuracy gate has nothing to measure: pass --held-out FILE "
            "(JSON lines with text and label), or --gate accept (every variant eligible for engine: auto, "
            "unmeasured) or --gate skip (ONNX packed, auto stays on torch)"
        )
    gate = {"mode": {"measure": "measured", "accept": "accepted", "skip": "skipped"}[mode],
            "max_loss_points": MAX_LOSS_POINTS, "max_disagreement": MAX_DISAGREEMENT,
            "settings": {key: settings[key] for key in ("max_length", "long_text", "token_budget")},
            "host": {"cpu": platform.processor() or platform.machine(), "isa": cpu_isa()}}  # fmt: skip
    if data is None:
        rows = [{"variant": v.name, "eligible": v == TORCH_FP32 or mode == "accept", "reason": f"gate {mode}"}
                for v in variants]  # fmt: skip
        return {"gate": gate, "variants": rows}
    pairs, source = data
    report = measure_classifiers([(v.name, _loader(model_dir, onnx_dir, v, settings)) for v in variants], pairs, source)
    reference = report.results[0]
    rows = []
    for result in report.results:
        verdict = judge(result.accuracy, reference.accuracy, result.agreement)
        rows.append({"variant": result.precision, "ran_as": result.dtype, "correct": result.correct,
                     "total": result.total, "accuracy": result.accuracy, "agreement": result.agreement,
                     "seconds": round(result.seconds, 2), **asdict(verdict)})  # fmt: skip
    return {"gate": gate | {"source": source}, "variants": rows}


def _loader(model_dir: Path, onnx_dir: Path, variant: Variant, settings: dict):
    """Loads `variant` the way a worker does: `TextClassifier.load` on a folder holding the model and its ONNX
    files (symlinks in a temporary folder), with that engine and precision asked for."""

    def load():
        from bert_classifier.model import TextClassifier
        from bert_classifier.settings import Settings

        with tempfile.TemporaryDirectory(prefix="gate-") as staging:
            for source in [*Path(model_dir).iterdir(), *onnx_dir.glob("*.onnx")]:
                (Path(staging) / source.name).symlink_to(source.resolve())
            fixed = {"engine": variant.engine, "precision": variant.precision}
            return TextClassifier.load(staging, Settings(**{**settings, **fixed}))

    return load


def write_manifest(record: dict, out_dir: Path) -> Path:
    """`engines.json` (for the workers) and `ENGINES.md` (for people) into `out_dir`."""
    (out_dir / REPORT).write_text(render(record), encoding="utf-8")
    path = out_dir / MANIFEST
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return path


def render(record: dict) -> str:
    gate = record["gate"]
    lines = ["# Engines and the accuracy gate\n",
             f"Gate: **{gate['mode']}**" + (f" on {gate['source']}" if "source" in gate else "") +
             f"; a variant is eligible for `engine: auto` when it loses at most {gate['max_loss_points']} points "
             f"against torch fp32 and disagrees with it on at most {gate['max_disagreement']:.0%} of texts. "
             f"Settings: {gate['settings']}. Host: {gate['host']['cpu']} ({gate['host']['isa']}).\n",
             "| variant | accuracy | agreement with torch fp32 | eligible | why |",
             "|---|---:|---:|---|---|"]  # fmt: skip
    for row in record["variants"]:
        accuracy = f"{row['accuracy']:.2%} ({row['correct']}/{row['total']})" if "accuracy" in row else "-"
        agreement = f"{row['agreement']:.2%}" if "agreement" in row else "-"
        lines.append(f"| {row['variant']} | {accuracy} | {agreement} | {'yes' if row['eligible'] else 'no'} | "
                     f"{row['reason']} |")  # fmt: skip
    export = record.get("export")
    if export:
        lines += ["", f"Export: {export['exporter']}, opset {export['opset']}, fp32 logits within "
                  f"{export['parity']:.1e} of torch; int8: {export['int8']}."]  # fmt: skip
    return "\n".join(lines) + "\n"
