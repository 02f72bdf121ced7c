"""Deploy the classifier to SageMaker endpoints: `python -m tools.sagemaker_deploy [--dry-run] COMMAND ...`

    realtime    model + endpoint config + endpoint, then target-tracking autoscaling
    async       the same as an asynchronous endpoint (answers in S3)
    serverless  a serverless endpoint (memory size, max concurrency)
    autoscale   (re)register autoscaling on an existing endpoint
    update      blue/green update of an endpoint to a new model, canary or linear, rolled back on a 5xx alarm

Defaults come from the committed `make bench` report (docs/reports/bench.md, `tools.bench_figures`): the autoscaling
target is the measured max requests/s of one server × `--safety-factor` × 60, an async instance takes the
concurrency where one server saturated, a serverless endpoint gets the measured memory with headroom.
`--dry-run` needs no credentials: each call is validated against botocore's service model and printed.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from tools.bench_figures import capacity, memory_mib
from tools.sagemaker_deploy import actions, calls, dry_run
from tools.sagemaker_deploy.calls import ModelSpec, Scaling, TrafficShift

SERVERLESS_MEMORY_STEP_MB = 1024  # SageMaker takes 1024, 2048, ..., 6144


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    fit = capacity()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="validate and print the API calls, make none")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    commands = parser.add_subparsers(dest="command", required=True)

    def model_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--endpoint", required=True, help="endpoint name")
        command.add_argument("--model-name", required=True, help="a new SageMaker model name, e.g. bert-news-v1")
        command.add_argument("--image", required=True, help="ECR URI of our image (docker/Dockerfile)")
        command.add_argument("--model-data", required=True, help="s3:// URI of `make sagemaker-artifact`'s tarball")
        command.add_argument("--role-arn", required=True, help="the role SageMaker assumes")
        command.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="container variable")
        command.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait for InService")

    def instance_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--instance-type",
            default="ml.c5.large",
            help=f"default: {fit.cores} vCPUs, no bf16, like the fp32 bench reference",
        )
        command.add_argument("--instance-count", type=int, default=1)

    def scaling_options(command: argparse.ArgumentParser, enabled: bool) -> None:
        command.add_argument("--autoscaling", action=argparse.BooleanOptionalAction, default=enabled)
        command.add_argument("--min-instances", type=int, default=1)
        command.add_argument("--max-instances", type=int, default=4)
        command.add_argument("--safety-factor", type=float, default=calls.DEFAULT_SAFETY_FACTOR)
        command.add_argument("--max-requests-per-s", type=float, default=fit.max_requests_per_s,
                             help=f"one instance's measured maximum (default: docs/reports/bench.md, {fit.variant} "
                                  f"{fit.workload}: {fit.max_requests_per_s:g})")  # fmt: skip
        command.add_argument("--scale-in-cooldown", type=int, default=Scaling(0).scale_in_cooldown_s)
        command.add_argument("--scale-out-cooldown", type=int, default=Scaling(0).scale_out_cooldown_s)

    realtime = commands.add_parser("realtime", help="real-time endpoint with autoscaling")
    model_options(realtime)
    instance_options(realtime)
    scaling_options(realtime, enabled=True)

    asynchronous = commands.add_parser("async", help="asynchronous endpoint")
    model_options(asynchronous)
    instance_options(asynchronous)
    scaling_options(asynchronous, enabled=False)
    asynchronous.add_argument("--s3-output", required=True, help="s3:// prefix for the answers")
    asynchronous.add_argument("--s3-failure", help="s3:// prefix for failed requests")
    asynchronous.add_argument("--max-concurrent-invocations", type=int, default=fit.knee_concurrency)

    serverless = commands.add_parser("serverless", help="serverless endpoint")
    model_options(serverless)
    serverless.add_argument("--memory-mb", type=int, default=memory_mib(SERVERLESS_MEMORY_STEP_MB))
    serverless.add_argument("--max-concurrency", type=int, default=fit.knee_concurrency)

    autoscale = commands.add_parser("autoscale", help="register autoscaling on an existing endpoint")
    autoscale.add_argument("--endpoint", required=True)
    scaling_options(autoscale, enabled=True)

    update = commands.add_parser("update", help="blue/green update to a new model")
    model_options(update)
    instance_options(update)
    update.add_argument("--traffic", choices=("canary", "linear"), default="canary")
    update.add_argument("--step-percent", type=int, default=TrafficShift().step_percent)
    update.add_argument("--wait-seconds", type=int, default=TrafficShift().wait_s, help="between traffic steps")
    update.add_argument("--termination-wait", type=int, default=TrafficShift().termination_wait_s)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, clients: actions.Clients) -> None:
    if args.command == "autoscale":
        actions.enable_autoscaling(clients, args.endpoint, _scaling(args))
        return
    model = ModelSpec(args.model_name, args.image, args.model_data, args.role_arn, _environment(args.env))
    if args.command == "realtime":
        actions.deploy_realtime(clients, model, endpoint=args.endpoint, instance_type=args.instance_type,
                                instance_count=args.instance_count, scaling=_scaling(args), wait=args.wait)  # fmt: skip
    elif args.command == "async":
        actions.deploy_async(clients, model, endpoint=args.endpoint, instance_type=args.instance_type,
                             instance_count=args.instance_count, s3_output_path=args.s3_output,
                             max_concurrent_invocations=args.max_concurrent_invocations,
                             s3_failure_path=args.s3_failure, scaling=_scaling(args), wait=args.wait)  # fmt: skip
    elif args.command == "serverless":
        actions.deploy_serverless(clients, model, endpoint=args.endpoint, memory_mb=args.memory_mb,
                                  max_concurrency=args.max_concurrency, wait=args.wait)  # fmt: skip
    else:
        shift = TrafficShift(args.traffic.upper(), args.step_percent, args.wait_seconds, args.termination_wait)
        actions.blue_green_update(clients, model, endpoint=args.endpoint, instance_type=args.instance_type,
                                  instance_count=args.instance_count, shift=shift, wait=args.wait)  # fmt: skip


def _scaling(args: argparse.Namespace) -> Scaling | None:
    if not args.autoscaling:
        return None
    target = calls.target_invocations_per_instance(args.max_requests_per_s, args.safety_factor)
    return Scaling(target, args.min_instances, args.max_instances, args.scale_in_cooldown, args.scale_out_cooldown)


def _environment(pairs: list[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--env {pair!r} is not NAME=VALUE")
        environment[name] = value
    return environment


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args, dry_run.clients() if args.dry_run else actions.boto3_clients(args.region))
    except (ValueError, ParamValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
