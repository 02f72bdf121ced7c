"""`make image-test`: run the built images with buildah and check them from the host, as their platforms would.

    python -m tools.image_check sagemaker --tag bert-classifier:cpu --model-dir artifacts
    python -m tools.image_check lambda --tag bert-classifier-lambda

sagemaker: the image's own ENTRYPOINT + CMD (`serve`) runs in a buildah working container (chroot isolation,
the host's network, free loopback ports, the image's user), with `--model-dir` packed into model.tar.gz and
extracted as SageMaker does, mounted read-only as /opt/ml/model. From the host it checks what SageMaker relies
on: /ping 200 within the start-up budget, /invocations in JSON, JSON lines and CSV (one line out per line in),
Accept, 4xx for bad bodies (`tools.endpoint_checks`), every /ping answered within 2 s while requests keep the
workers busy, then SIGTERM with requests in flight: each must be answered and the container must exit 0 within
30 s, leaving no process behind. The image's size is reported, not checked.

lambda: the Lambda runtime interface emulator cannot be fetched here, so the check imports the image's CMD
handler inside the image and calls it with an API Gateway event, as the runtime client would.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import requests

from tools.buildah import Buildah
from tools.endpoint_checks import (
    BUSY_BODY,
    IN_FLIGHT,
    PING_REPLY_S,
    TEXTS,
    Check,
    busy_ping_check,
    classifies,
    invocation_checks,
    report,
)
from tools.image_container import RunningImage
from tools.sagemaker_artifact import build_artifact
from tools.server import free_port, free_port_range, wait_for

# The start-up budget we hold the image to; on SageMaker the endpoint's ContainerStartupHealthCheckTimeoutInSeconds
# (60 to 3600 s) sets the real one.
START_BUDGET_S = 480
STOP_DEADLINE_S = 30  # SageMaker (and `docker stop`) send SIGKILL 30 s after SIGTERM
LAMBDA_USER = "65534:65534"  # nobody:nogroup


def wait_until_healthy(container: RunningImage, url: str) -> Check:
    """/ping 200 (answered within PING_REPLY_S), then a first classification: TorchServe pings Healthy while
    its worker still loads the model."""
    started = container.started

    def healthy() -> bool:
        if container.exited():
            raise RuntimeError(f"the container exited with {container.returncode()}:\n{container.log_tail()}")
        try:
            return requests.get(f"{url}/ping", timeout=PING_REPLY_S).status_code == 200
        except requests.RequestException:
            return False

    wait_for(healthy, START_BUDGET_S, "/ping to answer 200", interval=0.5)
    ping_s = time.monotonic() - started
    wait_for(lambda: classifies(url), START_BUDGET_S, "a first classification", interval=0.5)
    ready_s = time.monotonic() - started
    detail = f"/ping 200 after {ping_s:.1f} s, first classification after {ready_s:.1f} s (budget {START_BUDGET_S} s)"
    return Check("start-up", ready_s <= START_BUDGET_S, detail)


def drain_check(container: RunningImage, port: int) -> Check:
    """IN_FLIGHT requests fully sent, then SIGTERM to the container's init (tini), as `docker stop` sends it."""
    body = BUSY_BODY.encode()
    answers: list[str] = [""] * IN_FLIGHT
    sent = threading.Barrier(IN_FLIGHT + 1)

    def send(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=STOP_DEADLINE_S * 2)
        try:
            connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            sent.wait()
            answers[index] = str(connection.getresponse().status)
        except (OSError, http.client.HTTPException) as error:
            answers[index] = type(error).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    sent.wait(timeout=60)
    stopped = time.monotonic()
    container.terminate()
    waiting = answers.count("")  # a request answered before SIGTERM tests nothing about the drain
    code = container.wait(STOP_DEADLINE_S)
    took = time.monotonic() - stopped
    for thread in threads:
        thread.join(timeout=STOP_DEADLINE_S)
    left = container.leftover_processes()
    answered = sum(answer == "200" for answer in answers)
    ok = code == 0 and answered == IN_FLIGHT and waiting > 0 and not left
    detail = (
        f"exit {code} after {took:.1f} s; {waiting} of {IN_FLIGHT} sent requests still waiting at SIGTERM; "
        f"{answered}/{IN_FLIGHT} answered 200 ({', '.join(sorted(set(answers)))}); {len(left)} process(es) left"
    )
    return Check("SIGTERM with requests in flight", ok, detail)


def sagemaker_model_folder(model_dir: Path, workdir: Path) -> Path:
    """/opt/ml/model as SageMaker fills it: `make sagemaker-artifact`'s model.tar.gz, extracted."""
    artifact = build_artifact(model_dir, workdir / "model.tar.gz")
    with tarfile.open(artifact) as archive:
        archive.extractall(workdir / "model", filter="data")
    return workdir / "model"


def user_checks(container: RunningImage) -> list[Check]:
    """A fixed non-root uid that owns no file in the image: it can change nothing but what it creates."""
    user = container.config.get("User") or "(none: root)"
    checks = [Check("image user is a fixed non-root uid", container.uid not in (None, 0), f"USER {user}")]
    if container.uid not in (None, 0):
        owned = container.owned_files()
        checks.append(Check("the user owns no file in the image", not owned, f"{len(owned)} {' '.join(owned[:5])}"))
    return checks


def check_sagemaker(buildah: Buildah, tag: str, model_dir: Path) -> list[Check]:
    port, internal = free_port(), free_port_range(4)
    environment = {
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_SAFE_PORT_RANGE": f"{internal}-{internal + 3}",
        "SM_BIND_HOST": "127.0.0.1",  # the host's network: stay on loopback
        "TINI_SUBREAPER": "1",  # no PID namespace under chroot isolation: tini reaps as a subreaper, not PID 1
    }
    url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="image-check-"))
    checks = [Check("image size", None, buildah.image_size(tag))]
    try:
        with RunningImage(buildah, tag, workdir) as container:
            checks += user_checks(container)
            container.start({sagemaker_model_folder(model_dir, workdir): "/opt/ml/model"}, environment)
            checks.append(wait_until_healthy(container, url))
            count, uids = container.process_uids()
            checks.append(
                Check(
                    "every process runs as the image's user", uids == [container.uid], f"{count} processes, uids {uids}"
                )
            )
            checks += invocation_checks(url)
            checks.append(busy_ping_check(url))
            checks.append(drain_check(container, port))
    finally:  # keep the container's log, not the model copy
        shutil.rmtree(workdir / "model", ignore_errors=True)
        (workdir / "model.tar.gz").unlink(missing_ok=True)
        print(f"image-check: container log: {workdir / 'container.log'}")
    return checks


LAMBDA_PROBE = """
import importlib, json, os, sys
sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
module, function = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module), function)
event = {"version": "2.0", "requestContext": {"http": {"method": "POST"}},
         "headers": {"content-type": "application/json"}, "body": json.dumps({"data": json.loads(sys.argv[2])}),
         "isBase64Encoded": False}
answer = handler(event, None)
print(json.dumps({"statusCode": answer["statusCode"], "results": len(json.loads(answer["body"]))}))
"""


def check_lambda(buildah: Buildah, tag: str) -> list[Check]:
    checks = [Check("image size", None, buildah.image_size(tag))]
    with (
        tempfile.TemporaryDirectory(prefix="image-check-") as workdir,
        RunningImage(buildah, tag, Path(workdir)) as container,
    ):
        [handler] = container.config.get("Cmd") or [""]
        # Lambda runs functions as a non-root user that may only write /tmp: `nobody` stands in for it.
        probe = ["python", "-c", LAMBDA_PROBE, handler, json.dumps(TEXTS)]
        result = container.run_command(probe, user=LAMBDA_USER)
    last = (result.stdout.strip().splitlines() or [""])[-1]
    ok = result.returncode == 0 and last == json.dumps({"statusCode": 200, "results": len(TEXTS)})
    detail = last if ok else f"exit {result.returncode}: {(result.stdout + result.stderr)[-2000:]}"
    checks.append(Check(f"{handler} imported and called with an API Gateway event", ok, detail))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", choices=["sagemaker", "lambda"])
    parser.add_argument("--tag", required=True)
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"))
    parser.add_argument("--storage-driver", default="vfs")
    args = parser.parse_args(argv)
    buildah = Buildah(storage_driver=args.storage_driver)
    if buildah.image_config(args.tag) is None:
        print(f"image-check: no image {args.tag}: build it first (make image)", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        if args.image == "sagemaker":
            checks = check_sagemaker(buildah, args.tag, args.model_dir)
        else:
            checks = check_lambda(buildah, args.tag)
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError, psutil.Error) as error:
        print(f"image-check: error: {error}", file=sys.stderr)
        return 1
    print(f"image-check: {args.image} image {args.tag}, {time.monotonic() - started:.0f} s")
    return report(checks)


if __name__ == "__main__":
    sys.exit(main())
