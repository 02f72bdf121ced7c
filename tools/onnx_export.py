"""Export a `save_pretrained` sequence classifier to ONNX for the `onnxruntime` engine, and quantize an int8 copy.

- fp32: `torch.onnx.export(..., dynamo=True)`, the torch.export-based exporter (torch 2.13's default; the
  TorchScript one is deprecated), with dynamic batch and sequence axes, inputs `input_ids` and `attention_mask`
  (and `token_type_ids` when the model reads them, for text pairs), output `logits`. The export is
  checked against the model's own forward on padded batches (`check_parity`).
- int8: ONNX Runtime's dynamic quantization (weights int8 per output channel, activations quantized per call),
  with 7-bit weights (`reduce_range`): without VNNI (AVX2 hosts) the u8 x s8 kernels add pairs of products in
  16 bits, which full-range weights can saturate.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bert_classifier.engines.variants import ONNX_FILES
from bert_classifier.pairs import uses_token_types

PARITY_TOLERANCE = 1e-3
"""Largest absolute logit difference between the fp32 export and the torch model that passes."""
OPSET = 18


@dataclass(frozen=True)
class Export:
    files: dict[str, Path]
    """Per precision, the ONNX file."""
    parity: float
    """Largest absolute logit difference of the fp32 export against torch on the check batches."""
    seconds: dict[str, float]


def export_onnx(model_dir: str | Path, out_dir: str | Path, per_channel: bool = True) -> Export:
    """Write `model.onnx` (fp32) and `model-int8.onnx` into `out_dir`; raise if the fp32 export is not faithful."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _load(model_dir)
    with_types = takes_token_types(model_dir, model)
    started = time.perf_counter()
    fp32 = export_fp32(model, out / ONNX_FILES["fp32"], with_types)
    seconds = {"fp32": time.perf_counter() - started}
    parity = check_parity(model, fp32)
    if parity > PARITY_TOLERANCE:
        raise RuntimeError(f"the ONNX export differs from the torch model by {parity:.2e} in a logit")
    started = time.perf_counter()
    int8 = quantize_int8(fp32, out / ONNX_FILES["int8"], per_channel)
    seconds["int8"] = time.perf_counter() - started
    return Export({"fp32": fp32, "int8": int8}, parity, seconds)


def _load(model_dir: str | Path):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True
    ).eval()


def takes_token_types(model_dir: str | Path, model) -> bool:
    """Whether the model reads token type ids (`pairs.uses_token_types`: BERT and ELECTRA do; DistilBERT, RoBERTa,
    XLM-R, DeBERTa-v2 and ModernBERT do not)."""
    from transformers import AutoTokenizer

    return uses_token_types(AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True), model.config)


def _example(batch: int, lengths: list[int], vocab: int, with_types: bool = False) -> dict:
    """Token ids and a right-padded attention mask (first row longest), like a padded micro-batch; with
    `with_types`, token types of a pair (the second half of each row type 1)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    longest = max(lengths)
    ids = torch.randint(1000, min(vocab, 20000), (batch, longest), generator=generator)
    mask = (torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]).long()
    inputs = {"input_ids": ids * mask, "attention_mask": mask}
    if with_types:
        inputs["token_type_ids"] = (torch.arange(longest)[None, :] >= torch.tensor(lengths)[:, None] // 2).long() * mask
    return inputs


def export_fp32(model, target: Path, with_types: bool = False) -> Path:
    import torch

    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    inputs = _example(2, [8, 5], model.config.vocab_size, with_types)  # sizes above 1: export specialises 0 and 1
    # The exporter reports progress on stdout and warns about torchvision ops we do not use: keep the log clean.
    with _quiet():
        torch.onnx.export(
            model,
            (),
            str(target),
            kwargs=inputs,
            input_names=list(inputs),
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return target


def quantize_int8(fp32: Path, target: Path, per_channel: bool = True) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=True
        )
    return target


def check_parity(model, path: Path) -> float:
    """Largest absolute logit difference between `path` in ONNX Runtime and `model` on padded batches (of text
    pairs when the export takes token type ids)."""
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with_types = "token_type_ids" in {i.name for i in session.get_inputs()}
    worst = 0.0
    for lengths in ([3], [17, 9, 4], [40, 40]):
        inputs = _example(len(lengths), lengths, model.config.vocab_size, with_types)
        with torch.inference_mode():
            expected = model(**inputs).logits.numpy()
        (got,) = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        worst = max(worst, float(abs(got - expected).max()))
    return worst


@contextlib.contextmanager
def _quiet():
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript", "root")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
