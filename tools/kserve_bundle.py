"""`make kserve-bundle`: the storage folder KServe's TorchServe runtimes load from (`storageUri`, mounted at
/mnt/models):

    config/config.properties    written here from the project's config.properties and model-config.yaml
    config/metrics.yaml         the project's metrics declarations (TorchServe's and the handler's bert_*)
    config/log4j2.xml           the project's log configuration (no per-request DEBUG lines)
    model-store/<name>.mar      `make archive`'s archive (tools.archive)

    python -m tools.kserve_bundle --model-dir artifacts --output build/kserve

The runtime starts `torchserve --start --model-store=/mnt/models/model-store
--ts-config=/mnt/models/config/config.properties`. Nothing is copied by hand: addresses are KServe's (inference
on 0.0.0.0:8085, metrics on 0.0.0.0:8082, management on loopback), the security switches and the JVM settings are
the project's config.properties', and the model's workers, batching and timeouts come from model-config.yaml
into `model_snapshot`, which registers the model at start-up. Explanations are off (a 403 naming the setting)
unless `--explanations own_pool` (the snapshot also registers `<name>_explain`, one worker, batch size 1, the
only pool that explains) or `shared` (the prediction workers explain); the archive's handler settings say which.
`enable_envvars_config=true` lets the pod's `TS_*` variables override any of these (KServe's TorchServe runtime
sets `TS_SERVICE_ENVELOPE` that way; our own ServingRuntime in deploy/kserve/ sets none).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bert_classifier.errors import InvalidArtifacts
from bert_classifier.settings import EXPLAIN_POOL_SUFFIX, EXPLANATION_MODES
from tools.archive import build_archive
from torchserve_launcher.properties import read_properties, render_properties

ROOT = Path(__file__).resolve().parent.parent
MOUNT = "/mnt/models"
"""Where KServe's storage initializer puts `storageUri`'s contents in the pod."""
INFERENCE_PORT = 8085  # KServe's TorchServe runtime: its wrapper (or the ingress) sends requests here
METRICS_PORT = 8082
MANAGEMENT_PORT = 8081
# Copied from the project's config.properties: the same security choices and limits as `make serve`.
SHARED_PROPERTIES = (
    "grpc_inference_port",
    "grpc_management_port",
    "ts_open_inference_protocol",
    "disable_token_authorization",
    "allowed_urls",
    "install_py_dep_per_model",
    "metrics_mode",
    "max_request_size",
    "max_response_size",
)
SNAPSHOT_SETTINGS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout", "startupTimeout")
EXPLAIN_POOL = {"minWorkers": 1, "maxWorkers": 1, "batchSize": 1}
"""The explanation pool's workers, as `make serve` registers it (one explanation holds a worker for seconds)."""


def model_snapshot(model_config: dict, model_name: str, version: str, explanations: str = "off") -> dict:
    """TorchServe's `model_snapshot`: registers `<model_name>.mar` at start-up with model-config.yaml's settings,
    and with `explanations="own_pool"` the same archive again as `<model_name>_explain`, the pool that explains."""
    missing = [key for key in SNAPSHOT_SETTINGS if key not in model_config]
    if missing:
        raise ValueError(f"model-config.yaml lacks {', '.join(missing)}")
    entry = {"defaultVersion": True, "marName": f"{model_name}.mar"}
    entry |= {key: int(model_config[key]) for key in SNAPSHOT_SETTINGS}
    models = {model_name: {version: entry}}
    if explanations == "own_pool":
        models[model_name + EXPLAIN_POOL_SUFFIX] = {version: entry | EXPLAIN_POOL}
    return {"name": "startup.cfg", "modelCount": len(models), "models": models}


def bundle_model_config(model_config: dict, explanations: str) -> dict:
    """model-config.yaml as the bundle's archive carries it: the handler's `explanations` set to the bundle's."""
    if explanations not in EXPLANATION_MODES:
        raise ValueError(f"explanations must be one of {EXPLANATION_MODES}, not {explanations!r}")
    config = copy.deepcopy(model_config)
    config.setdefault("handler", {})["explanations"] = explanations
    return config


def bundle_properties(project: dict[str, str], snapshot: dict, mount: str = MOUNT) -> str:
    """The bundle's config.properties text."""
    missing = [key for key in (*SHARED_PROPERTIES, "vmargs") if key not in project]
    if missing:
        raise ValueError(f"config.properties lacks {', '.join(missing)}")
    vmargs = f"{project['vmargs']} -Dlog4j.configurationFile=file://{mount}/config/log4j2.xml"
    properties = {
        "inference_address": f"http://0.0.0.0:{INFERENCE_PORT}",  # the pod's port, behind KServe
        "management_address": f"http://127.0.0.1:{MANAGEMENT_PORT}",  # only the runtime's own wrapper polls it
        "metrics_address": f"http://0.0.0.0:{METRICS_PORT}",  # Prometheus scrapes the pod
        **{key: project[key] for key in SHARED_PROPERTIES},
        # Nothing registers models at run time: model_snapshot loads the one model.
        "enable_model_api": "false",
        "enable_envvars_config": "true",
        "model_store": f"{mount}/model-store",
        "metrics_config": f"{mount}/config/metrics.yaml",
        "vmargs": vmargs,
        "model_snapshot": json.dumps(snapshot, separators=(",", ":")),
    }
    header = (
        "# Written by `make kserve-bundle` (tools/kserve_bundle.py) from config.properties and model-config.yaml:\n"
        "# change those and re-run it. TS_* environment variables override any line (enable_envvars_config).\n"
    )
    return render_properties(properties, header)


def write_bundle(
    *,
    model_dir: Path,
    output: Path,
    model_name: str,
    version: str = "1.0",
    model_config: Path = ROOT / "model-config.yaml",
    ts_config: Path = ROOT / "config.properties",
    explanations: str = "off",
) -> Path:
    """Write the bundle into `output` (replacing it); returns the path of its config.properties."""
    config = bundle_model_config(yaml.safe_load(model_config.read_text()), explanations)
    snapshot = model_snapshot(config, model_name, version, explanations)
    text = bundle_properties(read_properties(ts_config), snapshot)
    shutil.rmtree(output, ignore_errors=True)
    config_dir = output / "config"
    config_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        archived_config = Path(scratch) / "model-config.yaml"
        archived_config.write_text(yaml.safe_dump(config, sort_keys=False))
        build_archive(
            model_dir=model_dir,
            model_name=model_name,
            version=version,
            config_file=archived_config,
            export_path=output / "model-store",
        )
    shutil.copy(ROOT / "metrics.yaml", config_dir / "metrics.yaml")
    shutil.copy(ROOT / "log4j2.xml", config_dir / "log4j2.xml")
    properties = config_dir / "config.properties"
    properties.write_text(text)
    return properties


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"), help="save_pretrained folder")
    parser.add_argument("--model-name", default="bert_news_classification", help="the model's name in URLs")
    parser.add_argument("--version", default="1.0")
    parser.add_argument("--config-file", type=Path, default=ROOT / "model-config.yaml", help="per-model config")
    parser.add_argument("--output", type=Path, default=Path("build/kserve"), help="the bundle folder")
    parser.add_argument(
        "--explanations",
        choices=EXPLANATION_MODES,
        default="off",
        help="off (403), own_pool (a <name>_explain pool explains) or shared (the prediction workers explain)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        properties = write_bundle(
            model_dir=args.model_dir,
            output=args.output,
            model_name=args.model_name,
            version=args.version,
            model_config=args.config_file,
            explanations=args.explanations,
        )
    except (InvalidArtifacts, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: torch-model-archiver failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}/ ({properties.relative_to(args.output)}, model-store/{args.model_name}.mar)")
    print(f"upload it, e.g.: aws s3 cp --recursive {args.output} s3://BUCKET/bert-kserve/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
