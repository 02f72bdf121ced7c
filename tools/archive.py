"""`make archive`: check a model folder, then pack it with our handler into a self-contained TorchServe .mar.

    python -m tools.archive --model-dir artifacts --model-name bert_news_classification --version 1.0

It runs (and prints) `archiver_command`, the one `torch-model-archiver` invocation the project uses;
docs/archive-and-serve.md shows it and what `--extra-files` does with the folders.

With `--onnx` (the default of `make archive`) it first exports the model to ONNX (fp32 and int8,
`tools.onnx_export`) and runs the accuracy gate (`tools.accuracy_gate`) into a build folder, which is packed as
a third extra-files folder: `model.onnx`, `model-int8.onnx`, `engines.json`, `ENGINES.md`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bert_classifier.artifacts import validate_artifacts
from bert_classifier.errors import InvalidArtifacts
from torchserve_launcher.commands import HANDLERS, archiver_command

from .accuracy_gate import GATE_MODES

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE_ARGUMENTS = ("model_dir", "model_name", "version", "config_file", "export_path")
"""The command-line arguments `build_archive` takes."""
REQUIRED_IN_ARCHIVE = (
    "torchserve_handler.py",
    "bert_classifier/service.py",
    "config.json",
    "model.safetensors",
)


def build_archive(
    *,
    model_dir: str | Path,
    model_name: str,
    version: str,
    config_file: str | Path,
    export_path: str | Path,
    engines_dir: str | Path | None = None,
) -> Path:
    """Validate `model_dir`, run `archiver_command`, and check the archive's contents; return the .mar path.
    `engines_dir` holds the ONNX files and `engines.json` to pack (`build_engines`); without it the archive runs
    torch only."""
    summary = validate_artifacts(model_dir)
    print(f"model ok: {summary.architecture}, {len(summary.labels)} labels: {', '.join(summary.labels)}")
    for cache in HANDLERS.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)  # keep bytecode caches out of the archive
    Path(export_path).mkdir(parents=True, exist_ok=True)
    command = archiver_command(
        model_dir=model_dir,
        model_name=model_name,
        version=version,
        config_file=config_file,
        export_path=export_path,
        engines_dir=engines_dir,
    )
    print("+", shlex.join(command), flush=True)
    # The archiver stages files in $TMPDIR/<model-name>: a private TMPDIR keeps parallel builds apart.
    with tempfile.TemporaryDirectory(prefix="mar-") as staging:
        subprocess.run(command, check=True, env={**os.environ, "TMPDIR": staging})
    mar = Path(export_path) / f"{model_name}.mar"
    _check_archive(mar)
    print(f"wrote {mar} ({mar.stat().st_size / 1e6:.1f} MB)")
    return mar


def build_engines(
    model_dir: str | Path, out_dir: str | Path, config_file: str | Path, gate: str = "measure", held_out=None
) -> dict:
    """Export ONNX fp32 + int8 into `out_dir` and write the gate's `engines.json` there; return its record."""
    import dataclasses

    import onnxruntime
    import torch

    from bert_classifier.settings import read_model_config, settings_from_model_config

    from .accuracy_gate import run_gate, write_manifest
    from .onnx_export import export_onnx

    out = Path(out_dir)
    export = export_onnx(model_dir, out)
    print(f"exported ONNX fp32 + int8 in {sum(export.seconds.values()):.0f} s (fp32 logits within {export.parity:.1e})")
    settings = dataclasses.asdict(settings_from_model_config(read_model_config(config_file), env={}))
    record = run_gate(Path(model_dir), out, settings, gate, Path(held_out) if held_out else None)
    record["export"] = {"exporter": export.exporter, "opset": export.opset, "parity": export.parity,
                        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                        "int8": "ONNX Runtime dynamic quantization, int8 weights per channel, 7-bit range"}  # fmt: skip
    write_manifest(record, out)
    for row in record["variants"]:
        print(f"gate {row['variant']}: {'eligible' if row['eligible'] else 'NOT eligible'} ({row['reason']})")
    return record


def _check_archive(mar: Path) -> None:
    with zipfile.ZipFile(mar) as archive:
        names = set(archive.namelist())
    missing = [name for name in REQUIRED_IN_ARCHIVE if name not in names]
    if missing:
        raise InvalidArtifacts(f"{mar} is missing {', '.join(missing)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default="artifacts", help="save_pretrained folder (default: artifacts)")
    parser.add_argument("--model-name", default="bert_news_classification", help="archive and endpoint name")
    parser.add_argument("--version", default="1.0", help="model version (default: 1.0)")
    parser.add_argument("--config-file", default=str(ROOT / "model-config.yaml"), help="per-model config")
    parser.add_argument("--export-path", default="model-store", help="where the .mar goes")
    parser.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export ONNX fp32 + int8 and run the accuracy gate, for engine onnxruntime/auto (default: on)",
    )
    parser.add_argument(
        "--gate",
        choices=GATE_MODES,
        default="measure",
        help="measure: held-out accuracy decides which variants engine auto may choose (needs split.json or "
        "--held-out); accept: all eligible, unmeasured; skip: packed, but auto stays on torch",
    )
    parser.add_argument("--held-out", help="JSON lines {text, label} to measure the gate on (default: split.json)")
    parser.add_argument("--engines-dir", help="where the ONNX files and engines.json are built (default: temporary)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        archive = {
            key: getattr(args, key) for key in ("model_dir", "model_name", "version", "config_file", "export_path")
        }
        if not args.onnx:
            build_archive(**archive)
            return 0
        with tempfile.TemporaryDirectory(prefix="engines-") as scratch:
            engines_dir = Path(args.engines_dir or scratch)
            build_engines(args.model_dir, engines_dir, args.config_file, args.gate, args.held_out)
            build_archive(**archive, engines_dir=engines_dir)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except InvalidArtifacts as error:
        print(f"error: cannot archive {args.model_dir}: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: torch-model-archiver failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
