"""`make sagemaker-artifact`: write the model.tar.gz a user uploads to S3 for a SageMaker model.

    python -m tools.sagemaker_artifact --model-dir artifacts --output build/model.tar.gz

Layout (SageMaker extracts it into /opt/ml/model):

    config.json, model.safetensors, tokenizer files   the save_pretrained files, at the root
    code/inference.py                                 script mode (sagemaker_serving/inference.py)
    code/bert_classifier/                             the serving core it imports
    code/model-config.yaml                            handler settings, the same as in our .mar
    code/requirements.txt                             the core's pins (`core_pins`) that AWS's PyTorch containers lack

Our image (docker/Dockerfile) serves the root files with our TorchServe handler; AWS's PyTorch inference
containers run code/inference.py. Every entry is stored as root:root, files 0644 and folders 0755:
`save_pretrained` writes the weights 0600, which a non-root process in a container could not read.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tarfile
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI
    import tomli as tomllib

from bert_classifier.artifacts import validate_artifacts
from bert_classifier.errors import InvalidArtifacts

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "handlers" / "bert_classifier"
SCRIPT = ROOT / "sagemaker_serving" / "inference.py"
CONTAINER_PACKAGES = ("torch",)
"""What AWS's PyTorch inference containers already have, so script mode does not install it again."""


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """code/requirements.txt: the pins of the serving core's packages, less what the container brings."""
    provided = {_name(package) for package in CONTAINER_PACKAGES}
    return "".join(pin + "\n" for pin in core_pins(pyproject) if _name(pin) not in provided)


def core_pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The `[project] dependencies` pins of the packages `[tool.bert-torchserve] core-packages` names, in that
    order: the one list of what the serving core needs wherever it runs without TorchServe."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    names = data["tool"]["bert-torchserve"]["core-packages"]
    pins = {_name(requirement): requirement for requirement in data["project"]["dependencies"]}
    missing = [name for name in names if _name(name) not in pins]
    if missing:
        raise ValueError(f"{pyproject} does not pin {', '.join(missing)}")
    return [pins[_name(name)] for name in names]


def _name(requirement: str) -> str:
    """The normalised project name of a requirement (`PyYAML==6.0.3` -> `pyyaml`)."""
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def build_artifact(model_dir: Path, output: Path, model_config: Path = ROOT / "model-config.yaml") -> Path:
    """Validate `model_dir`, then write `output` (via a temporary file, so a failure leaves no half archive)."""
    summary = validate_artifacts(model_dir)
    print(f"model ok: {summary.architecture}, {len(summary.labels)} labels: {', '.join(summary.labels)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        for path in sorted(model_dir.iterdir()):
            if not path.name.startswith("."):  # .gitkeep and the like
                archive.add(path, arcname=path.name, filter=_normalise)
        archive.add(SCRIPT, arcname="code/inference.py", filter=_normalise)
        archive.add(CORE, arcname="code/bert_classifier", filter=_normalise)
        archive.add(model_config, arcname="code/model-config.yaml", filter=_normalise)
        _add_text(archive, "code/requirements.txt", requirements())
    partial.replace(output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)")
    return output


def _normalise(entry: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if "__pycache__" in Path(entry.name).parts or entry.name.endswith(".pyc"):
        return None
    entry.uid = entry.gid = 0
    entry.uname = entry.gname = "root"
    entry.mode = 0o755 if entry.isdir() else 0o644
    return entry


def _add_text(archive: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    entry = _normalise(tarfile.TarInfo(name))
    entry.size = len(data)
    entry.mtime = int(time.time())
    archive.addfile(entry, io.BytesIO(data))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"), help="save_pretrained folder")
    parser.add_argument("--output", type=Path, default=Path("build/model.tar.gz"), help="archive to write")
    parser.add_argument("--config-file", type=Path, default=ROOT / "model-config.yaml", help="handler settings")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        output = build_artifact(args.model_dir, args.output, args.config_file)
    except InvalidArtifacts as error:
        print(f"error: cannot package {args.model_dir}: {error}", file=sys.stderr)
        return 2
    print(f"next: aws s3 cp {output} s3://YOUR_BUCKET/bert-classifier/model.tar.gz  (docs/sagemaker.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
