"""`make archive`: check a model folder, then pack it with our handler into a self-contained TorchServe .mar.

    python -m tools.archive --model-dir artifacts --model-name bert_news_classification --version 1.0

runs (and prints) exactly this `torch-model-archiver` command:

    torch-model-archiver --model-name NAME --version VERSION --handler handlers/torchserve_handler.py \
        --extra-files handlers,MODEL_DIR --config-file model-config.yaml --export-path model-store --force

`--extra-files` copies each folder's *contents* into the archive root: `handlers` puts the `bert_classifier`
package next to the handler, and the model folder's files land in the root that TorchServe passes to the
handler as `model_dir`.

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

from .accuracy_gate import GATE_MODES

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"
REQUIRED_IN_ARCHIVE = (
    "torchserve_handler.py",
    "bert_classifier/service.py",
    "config.json",
    "model.safetensors",
)


def archiver_command(
    *,
    model_dir: str | Path,
    model_name: str,
    version: str,
    config_file: str | Path,
    export_path: str | Path,
    archive_format: str = "default",
    engines_dir: str | Path | None = None,
) -> list[str]:
    """The torch-model-archiver invocation that packs `model_dir` with our handler into `export_path`.

    Paths are made absolute. `archive_format="default"` writes `<export_path>/<model_name>.mar`; any other
    format is passed on as `--archive-format` (`no-archive` writes the folder `<export_path>/<model_name>/`,
    as `sagemaker_serving.model_store` does at start-up).
    """
    command = [
        str(Path(sys.executable).with_name("torch-model-archiver")),
        "--model-name",
        model_name,
        "--version",
        version,
        "--handler",
        str(HANDLERS / "torchserve_handler.py"),
        "--extra-files",
        ",".join(str(Path(d).resolve()) for d in (HANDLERS, model_dir, engines_dir) if d),
        "--config-file",
        str(Path(config_file).resolve()),
        "--export-path",
        str(Path(export_path).resolve()),
        "--force",
    ]
    if archive_format != "default":
        command += ["--archive-format", archive_format]
    return command


def build_archive(args: argparse.Namespace, engines_dir: str | Path | None = None) -> Path:
    """Validate, archive, and check the archive's contents; return the .mar path. `engines_dir` holds the ONNX
    files and `engines.json` to pack (`build_engines`); without it the archive runs torch only."""
    summary = validate_artifacts(args.model_dir)
    print(f"model ok: {summary.architecture}, {len(summary.labels)} labels: {', '.join(summary.labels)}")
    for cache in HANDLERS.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)  # keep bytecode caches out of the archive
    Path(args.export_path).mkdir(parents=True, exist_ok=True)
    command = archiver_command(
        model_dir=args.model_dir,
        model_name=args.model_name,
        version=args.version,
        config_file=args.config_file,
        export_path=args.export_path,
        engines_dir=engines_dir,
    )
    print("+", shlex.join(command), flush=True)
    # The archiver stages files in $TMPDIR/<model-name>: a private TMPDIR keeps parallel builds apart.
    with tempfile.TemporaryDirectory(prefix="mar-") as staging:
        subprocess.run(command, check=True, env={**os.environ, "TMPDIR": staging})
    mar = Path(args.export_path) / f"{args.model_name}.mar"
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
    import yaml

    from bert_classifier.settings import read_settings

    from .accuracy_gate import run_gate, write_manifest
    from .onnx_export import OPSET, export_onnx

    out = Path(out_dir)
    export = export_onnx(model_dir, out)
    print(f"exported ONNX fp32 + int8 in {sum(export.seconds.values()):.0f} s (fp32 logits within {export.parity:.1e})")
    handler = (yaml.safe_load(Path(config_file).read_text()) or {}).get("handler")
    settings = dataclasses.asdict(read_settings(handler, env={}))
    record = run_gate(Path(model_dir), out, settings, gate, Path(held_out) if held_out else None)
    record["export"] = {"exporter": "torch.onnx.export(dynamo=True)", "opset": OPSET, "parity": export.parity,
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
        if not args.onnx:
            build_archive(args)
            return 0
        with tempfile.TemporaryDirectory(prefix="engines-") as scratch:
            engines_dir = Path(args.engines_dir or scratch)
            build_engines(args.model_dir, engines_dir, args.config_file, args.gate, args.held_out)
            build_archive(args, engines_dir)
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
