"""`python -m tools.manage`: the command line over `tools.management_client` (what the `make` targets run).

python -m tools.manage list
python -m tools.manage describe bert_news_classification
python -m tools.manage register bert_news_classification.mar --workers 1 --batch-size 16 --max-batch-delay 5
python -m tools.manage scale bert_news_classification --workers 2
python -m tools.manage set-default bert_news_classification 2.0
python -m tools.manage unregister bert_news_classification --version 1.0
python -m tools.manage wait-ready bert_news_classification --timeout 120
"""

from __future__ import annotations

import argparse
import json
import sys

import requests

from tools.management_client import (
    DEFAULT_INFERENCE,
    DEFAULT_MANAGEMENT,
    ManagementClient,
    ManagementError,
    read_keys,
    rollout,
    token_auth_enabled,
    wait_ready_reading_keys,
)


def startup_summary(
    client: ManagementClient, model: str, version: str | None, inference_url: str, seconds: float
) -> dict:
    """What is running, printed by `make serve`: addresses, auth, and the model's batching and workers."""
    description = client.describe(model, version)[0]
    return {
        "model": f"{description['modelName']}/{description['modelVersion']}",
        "ready_after_seconds": round(seconds, 1),
        "inference": inference_url,
        "management": client.base_url,
        "token_auth": token_auth_enabled(client.base_url),
        "workers": len(description.get("workers", [])),
        "batch_size": description.get("batchSize"),
        "max_batch_delay_ms": description.get("maxBatchDelay"),
        "handler": "settings, device, dtype and torch threads: the worker's start-up line in logs/model_log.log",
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.manage", description="TorchServe management client")
    parser.add_argument("--management", default=DEFAULT_MANAGEMENT, help="management API base URL")
    parser.add_argument("--inference", default=DEFAULT_INFERENCE, help="inference API base URL")
    parser.add_argument("--key-file", default="key_file.json", help="TorchServe key file when auth is on")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list registered models")
    for name, text in (
        ("describe", "workers and settings of a model"),
        ("unregister", "remove a model version"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("model")
        command.add_argument("--version")
    register = commands.add_parser("register", help="register an archive from the model store")
    register.add_argument("url", help="archive file name in the model store, e.g. bert_news_classification.mar")
    register.add_argument("--model-name")
    register.add_argument("--workers", type=int, help="default: the archive's model-config.yaml minWorkers")
    register.add_argument("--batch-size", type=int)
    register.add_argument("--max-batch-delay", type=int, help="milliseconds")
    scale = commands.add_parser("scale", help="set the number of workers")
    scale.add_argument("model")
    scale.add_argument("--workers", type=int, required=True)
    scale.add_argument("--version")
    default = commands.add_parser("set-default", help="route /predictions/<model> to a version")
    default.add_argument("model")
    default.add_argument("version")
    roll = commands.add_parser("rollout", help="register a new version, make it the default, drain and remove the old")
    roll.add_argument("model")
    roll.add_argument("archive", help="the new version's archive in the model store")
    roll.add_argument("--new-version", required=True)
    roll.add_argument("--old-version", required=True)
    roll.add_argument("--workers", type=int, help="default: the new archive's model-config.yaml minWorkers")
    roll.add_argument("--grace-seconds", type=float, default=5.0, help="drain time for in-flight requests")
    ready = commands.add_parser("wait-ready", help="wait until workers are READY and a prediction succeeds")
    ready.add_argument("model")
    ready.add_argument("--version")
    ready.add_argument("--timeout", type=float, default=180.0)
    return parser


def run(args: argparse.Namespace) -> object:
    if args.command == "wait-ready":
        client, seconds = wait_ready_reading_keys(
            args.model,
            management_url=args.management,
            inference_url=args.inference,
            key_file=args.key_file,
            timeout=args.timeout,
            version=args.version,
        )
        return startup_summary(client, args.model, args.version, args.inference, seconds)
    management_key, _ = read_keys(args.key_file)
    client = ManagementClient(args.management, token=management_key)
    if args.command == "rollout":
        rollout(
            client,
            args.model,
            args.archive,
            args.new_version,
            args.old_version,
            inference_url=args.inference,
            workers=args.workers,
            grace_seconds=args.grace_seconds,
        )
        return client.describe(args.model)
    actions = {
        "list": lambda: client.list_models(),
        "describe": lambda: client.describe(args.model, args.version),
        "unregister": lambda: client.unregister(args.model, args.version),
        "register": lambda: client.register(
            args.url,
            model_name=args.model_name,
            workers=args.workers,
            batch_size=args.batch_size,
            max_batch_delay=args.max_batch_delay,
        ),
        "scale": lambda: client.scale(args.model, args.workers, args.version),
        "set-default": lambda: client.set_default(args.model, args.version),
    }
    return actions[args.command]()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(json.dumps(run(args), indent=2))
    except (ManagementError, TimeoutError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
