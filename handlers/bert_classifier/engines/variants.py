"""Which engine/precision variants a model folder holds, which the accuracy gate allows, and which may run here.

`make archive` writes the ONNX files and `engines.json` (the gate's measurements and verdicts, `tools.engines`)
into the archive root, next to the Hugging Face files. A folder without them (a bare `save_pretrained` folder, an
archive built with `--no-onnx`) has only the torch variants.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArtifacts

log = logging.getLogger(__name__)

MANIFEST = "engines.json"
ONNX_FILES = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
"""The ONNX export per precision, in the archive root."""


@dataclass(frozen=True)
class Variant:
    engine: str
    """`torch` or `onnxruntime`."""
    precision: str
    """What runs: `fp32`, `bf16`, `fp16` (torch) or `int8` (onnxruntime)."""

    @property
    def name(self) -> str:
        return f"{self.engine}-{self.precision}"

    @classmethod
    def parse(cls, name: str) -> Variant:
        engine, _, precision = name.rpartition("-")
        return cls(engine, precision)


TORCH_FP32 = Variant("torch", "fp32")
TORCH_BF16 = Variant("torch", "bf16")
ONNX_VARIANTS = tuple(Variant("onnxruntime", precision) for precision in ONNX_FILES)


@dataclass(frozen=True)
class Verdicts:
    """What `engines.json` says: per variant name, whether `auto` may choose it (absent: not measured)."""

    eligible: dict[str, bool]
    gate: str
    """`measured`, `accepted` (eligible without measurement) or `skipped` (nothing eligible but torch fp32)."""

    def allows(self, variant: Variant) -> bool | None:
        return self.eligible.get(variant.name)


def read_verdicts(model_dir: str | Path) -> Verdicts | None:
    """The gate's verdicts from `engines.json`, or None when the folder has none."""
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        eligible = {row["variant"]: bool(row["eligible"]) for row in record["variants"]}
        return Verdicts(eligible, str(record["gate"]["mode"]))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise InvalidArtifacts(f"{path} is not a valid engines manifest: {error}") from None


def onnx_file(model_dir: str | Path, variant: Variant) -> Path:
    return Path(model_dir) / ONNX_FILES[variant.precision]


def available_onnx(model_dir: str | Path) -> list[Variant]:
    return [variant for variant in ONNX_VARIANTS if onnx_file(model_dir, variant).is_file()]


def candidates(
    model_dir: str | Path, engine: str, precision: str, native_bf16: bool, verdicts: Verdicts | None
) -> list[Variant]:
    """The CPU variants for these settings; more than one means a start-up probe picks the fastest.

    A fixed precision with one variant to run it is that variant, whatever the gate said (the log warns).
    Otherwise every `auto` chooses among torch fp32 (the reference, always a candidate) and the variants the gate
    made eligible (measured, or accepted by the deployer with `--gate accept`); torch bf16 also needs native bf16.
    A folder the gate never saw (no `engines.json`: a bare `save_pretrained` folder, a SageMaker model tarball)
    runs torch fp32 unless the settings name another precision.
    """
    onnx = available_onnx(model_dir)
    known = [TORCH_FP32, *([TORCH_BF16] if native_bf16 else []), *onnx]
    wanted = [v for v in known if engine in ("auto", v.engine) and precision in ("auto", v.precision)]
    if not wanted:
        return [_fallback(engine, precision)]
    if precision != "auto" and len(wanted) == 1:
        if verdicts and verdicts.allows(wanted[0]) is False:
            log.warning("%s runs because it was asked for, but it failed the accuracy gate (%s)", wanted[0].name,
                        MANIFEST)  # fmt: skip
        return wanted
    chosen = [v for v in wanted if v == TORCH_FP32 or _eligible(v, verdicts)]
    if not chosen:  # engine onnxruntime, precision auto, and no ONNX variant passed the gate
        log.warning("no %s variant passed the accuracy gate (%s); running %s", engine, MANIFEST, wanted[0].name)
        chosen = wanted[:1]
    return chosen


def _eligible(variant: Variant, verdicts: Verdicts | None) -> bool:
    """The gate measured the variant and let it through, or the deployer accepted every variant unmeasured (an
    archive built on a CPU without bf16 lists no torch bf16 verdict)."""
    if verdicts is None:
        return False
    verdict = verdicts.allows(variant)
    return verdict is True or (verdict is None and verdicts.gate == "accepted")


def _fallback(engine: str, precision: str) -> Variant:
    """Nothing here runs the settings as asked: torch bf16/fp16 fall back to fp32 in `TorchEngine` (with a
    warning); ONNX Runtime without its file is a setting that cannot work."""
    if engine == "onnxruntime" or precision == "int8":
        needed = ONNX_FILES.get(precision, ONNX_FILES["fp32"])
        raise InvalidArtifacts(
            f"engine {engine} with precision {precision} needs {needed} in the model folder: build the archive "
            "with `make archive` (ONNX export on), or choose engine torch"
        )
    return Variant("torch", precision)
