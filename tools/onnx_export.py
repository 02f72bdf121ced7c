"""Export a `save_pretrained` sequence classifier to ONNX for the `onnxruntime` engine, and quantize an int8 copy.

- fp32, with fused attention where ONNX Runtime can fuse it (`export_fused`: BERT-family models): the TorchScript
  exporter on the model's eager attention, then ONNX Runtime's transformer optimizer (`onnxruntime.transformers`),
  which turns each layer's attention into one `Attention` kernel (and the embeddings, layer norms and GELUs into
  theirs). It is kept only when every layer's attention fused and its logits pass `check_parity`.
- fp32 otherwise: `torch.onnx.export(..., dynamo=True)`, the torch.export-based exporter (torch 2.13's default),
  whose graph the optimizer does not fuse.
  Both have dynamic batch and sequence axes, inputs `input_ids` and `attention_mask` (and `token_type_ids` when the
  model reads them, for text pairs), output `logits`, and are checked against the model's own forward on padded
  batches (`check_parity`).
- int8: ONNX Runtime's dynamic quantization (weights int8 per output channel, activations quantized per call),
  with 7-bit weights (`reduce_range`): without VNNI (AVX2 hosts) the u8 x s8 kernels add pairs of products in
  16 bits, which full-range weights can saturate. A fused export's attention becomes `QAttention`: int8 query,
  key and value projections in one kernel.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bert_classifier.engines.variants import ONNX_FILES
from bert_classifier.pairs import uses_token_types

PARITY_TOLERANCE = 1e-3
"""Largest absolute logit difference between the fp32 export and the torch model that passes."""
OPSET = 18
FUSED_OPSET = 17
"""The TorchScript exporter's opset for the fused export: the one ONNX Runtime's BERT fusions were tested on here."""
FUSABLE_TYPES = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")
"""Model types whose attention ONNX Runtime's BERT optimizer may fuse; `export_fused` still checks that it did."""
DYNAMO_EXPORTER = "torch.onnx.export(dynamo=True)"
FUSED_EXPORTER = "torch.onnx.export(dynamo=False) + onnxruntime.transformers optimizer (fused attention)"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Export:
    files: dict[str, Path]
    """Per precision, the ONNX file."""
    parity: float
    """Largest absolute logit difference of the fp32 export against torch on the check batches."""
    seconds: dict[str, float]
    exporter: str = DYNAMO_EXPORTER
    """How the fp32 file was made: `FUSED_EXPORTER` or `DYNAMO_EXPORTER`."""

    @property
    def opset(self) -> int:
        return FUSED_OPSET if self.exporter == FUSED_EXPORTER else OPSET


def export_onnx(model_dir: str | Path, out_dir: str | Path, per_channel: bool = True) -> Export:
    """Write `model.onnx` (fp32) and `model-int8.onnx` into `out_dir`; raise if the fp32 export is not faithful."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _load(model_dir)
    with_types = takes_token_types(model_dir, model)
    started = time.perf_counter()
    fp32, exporter = out / ONNX_FILES["fp32"], FUSED_EXPORTER
    parity = export_fused(model_dir, model, fp32, with_types)
    if parity is None:
        export_fp32(model, fp32, with_types)
        exporter, parity = DYNAMO_EXPORTER, check_parity(model, fp32)
    seconds = {"fp32": time.perf_counter() - started}
    if parity > PARITY_TOLERANCE:
        raise RuntimeError(f"the ONNX export differs from the torch model by {parity:.2e} in a logit")
    started = time.perf_counter()
    int8 = quantize_int8(fp32, out / ONNX_FILES["int8"], per_channel)
    seconds["int8"] = time.perf_counter() - started
    return Export({"fp32": fp32, "int8": int8}, parity, seconds, exporter)


def _load(model_dir: str | Path, **options):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True, **options
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


def export_fused(model_dir: str | Path, model, target: Path, with_types: bool = False) -> float | None:
    """Write the fused-attention export of `model` (loaded from `model_dir`) to `target` and return its parity;
    None, and nothing written, when the model type is not in `FUSABLE_TYPES`, the export or the optimizer fails,
    not every layer's attention fused, or its logits are further than `PARITY_TOLERANCE` from `model`'s."""
    config = model.config
    if config.model_type not in FUSABLE_TYPES:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="onnx-fused-") as scratch:
            traced = Path(scratch) / "traced.onnx"
            _export_torchscript(_load(model_dir, attn_implementation="eager"), traced, with_types)
            optimized = _optimize(traced, config.num_attention_heads, config.hidden_size)
            fused = optimized.get_fused_operator_statistics().get("Attention", 0)
            if fused != config.num_hidden_layers:
                log.info("ONNX Runtime fused %d of %d attention layers: exporting unfused", fused,
                         config.num_hidden_layers)  # fmt: skip
                return None
            optimized.save_model_to_file(str(target))
    except Exception as error:  # noqa: BLE001 - any failure of the fused path falls back to the plain export
        log.info("fused-attention export failed (%s): exporting unfused", type(error).__name__)
        target.unlink(missing_ok=True)
        return None
    parity = check_parity(model, target)
    if parity > PARITY_TOLERANCE:
        log.info("fused-attention export differs by %.1e in a logit: exporting unfused", parity)
        target.unlink()
        return None
    return parity


def _export_torchscript(model, target: Path, with_types: bool) -> None:
    import torch

    inputs = _example(2, [8, 5], model.config.vocab_size, with_types)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    with _quiet():
        torch.onnx.export(
            model,
            (),
            str(target),
            kwargs=inputs,  # by name, as `export_fp32` passes them: forward signatures order them differently
            input_names=list(inputs),
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=FUSED_OPSET,
            dynamo=False,
        )


def _optimize(path: Path, heads: int, hidden: int):
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet():
        # opt_level 0: only the optimizer's own fusions; ONNX Runtime applies its graph optimizations at load.
        return optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)


def quantize_int8(fp32: Path, target: Path, per_channel: bool = True) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(fp32),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=True,
            # The fused graph's contrib ops leave some tensors untyped by ONNX's shape inference: they are fp32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
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
