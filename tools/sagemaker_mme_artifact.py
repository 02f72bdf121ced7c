"""`make sagemaker-mme-artifact`: one model's model.tar.gz for a SageMaker multi-model endpoint.

    python -m tools.sagemaker_mme_artifact --model-dir artifacts --model-name news --output build/mme/news.tar.gz

On a multi-model endpoint SageMaker extracts each model's tarball into /opt/ml/models/<id>/model and asks the
container to load that folder (`sagemaker_serving/multi_model.py`). TorchServe loads a folder only when it is an
unpacked archive, so the tarball holds exactly what `make archive`'s .mar holds (handler, serving core, model
files, MAR-INF/MANIFEST.json, model-config.yaml), at its root.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from bert_classifier.errors import InvalidArtifacts
from tools.archive import build_archive
from tools.sagemaker_artifact import ROOT, _normalise


def build_mme_artifact(model_dir: Path, output: Path, model_name: str, model_config: Path) -> Path:
    """Archive `model_dir` as `make archive` does, then repack the archive's contents as `output` (tar.gz)."""
    with tempfile.TemporaryDirectory(prefix="mme-") as work:
        mar = build_archive(
            model_dir=model_dir, model_name=model_name, version="1.0", config_file=model_config, export_path=work
        )
        unpacked = Path(work) / "unpacked"
        with zipfile.ZipFile(mar) as archive:
            archive.extractall(unpacked)  # noqa: S202 - the archive build_archive just wrote
        output.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(output, "w:gz") as tarball:
            for path in sorted(unpacked.iterdir()):
                tarball.add(path, arcname=path.name, filter=_normalise)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"))
    parser.add_argument("--model-name", default="bert_news_classification")
    parser.add_argument("--output", type=Path, default=Path("build/mme/bert_news_classification.tar.gz"))
    parser.add_argument("--config-file", type=Path, default=ROOT / "model-config.yaml")
    args = parser.parse_args(argv)
    try:
        build_mme_artifact(args.model_dir, args.output, args.model_name, args.config_file)
    except InvalidArtifacts as error:
        print(f"error: cannot package {args.model_dir}: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: torch-model-archiver failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
