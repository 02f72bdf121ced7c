"""`make image` / `make image-lambda`: build docker/*Dockerfile with buildah, without a Docker engine.

    python -m tools.image --dockerfile docker/Dockerfile --tag bert-classifier:cpu

1. Installs buildah (and mmdebstrap) with apt-get when they are missing and we are root; otherwise says how.
2. Finds the Dockerfile's base (`FROM`): a local image is used as it is; a missing one is pulled; when the pull
   fails (our machines reach no container registry), a stand-in is built from the Debian archive
   (`tools.image_base`) and tagged with the base's name. The output says which of these happened.
3. Works out where torch comes from (`TORCH_PIP_ARGS`): given explicitly, else the very wheel file this
   machine's pip would install when it is a local file (mounted read-only into the build), else the
   Dockerfile's default (PyTorch's index).
4. Runs `buildah bud` (chroot isolation, host network for pip) and prints the build time and image size.

The Dockerfiles stay plain Dockerfiles: `docker build` builds them unchanged where Docker exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tools.buildah import ISOLATION, Buildah, docker_reference
from tools.image_base import RECIPE_LABEL, STAND_IN_LABEL, STAND_INS, build_stand_in
from tools.sagemaker_artifact import core_pins

ROOT = Path(__file__).resolve().parent.parent
TOOL_PACKAGES = {"buildah": "buildah", "mmdebstrap": "mmdebstrap"}
PIP_CONFIG_MOUNT = "/etc/xdg/pip"


class ImageError(RuntimeError):
    """The image cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class TorchSource:
    """The build's TORCH_PIP_ARGS and the host folders the build must see for them (mounted read-only)."""

    pip_args: str
    mounts: tuple[str, ...] = ()
    description: str = ""


# ---- decisions (pure) -------------------------------------------------------------------------------------------


def base_image(dockerfile_text: str) -> str:
    """The fully qualified name of the Dockerfile's (single-stage) base image."""
    bases = re.findall(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", dockerfile_text, re.MULTILINE | re.IGNORECASE)
    if len(bases) != 1 or "$" in bases[0]:
        raise ImageError(f"expected one literal FROM, found {bases}")
    return docker_reference(bases[0])


def base_action(local_config: dict | None, stand_in_digest: str | None) -> str:
    """What to do about the base: "use" the local image, "rebuild" an outdated stand-in, or "pull" it.

    `local_config` is the local image's config (None: not in the store); `stand_in_digest` is the digest of
    the recipe we have for this base (None: no recipe). A local image that is not a stand-in is used as is.
    """
    if local_config is None:
        return "pull"
    labels = local_config.get("Labels") or {}
    if STAND_IN_LABEL in labels and stand_in_digest is not None and labels.get(RECIPE_LABEL) != stand_in_digest:
        return "rebuild"
    return "use"


def torch_source(explicit: str | None, wheel_url: str | None) -> TorchSource:
    """TORCH_PIP_ARGS for the build: the explicit value if given; else the local wheel file this machine's pip
    resolves torch to (`wheel_url`, a file:// URL), mounted at the same path; else empty (PyTorch's index)."""
    if explicit:
        return TorchSource(explicit, description="TORCH_PIP_ARGS as given")
    if wheel_url and urlparse(wheel_url).scheme == "file":
        wheel = Path(unquote(urlparse(wheel_url).path))
        return TorchSource(str(wheel), (str(wheel.parent),), f"this machine's local wheel {wheel}")
    return TorchSource("", description="the Dockerfile's default (PyTorch's wheel index)")


def pip_setting(config_list: str, name: str) -> str | None:
    """One setting from `pip config list` output (`global.cert='...'`, `:env:.cert='...'`); the environment's
    wins, as in pip."""
    values = dict(re.findall(r"^(\S+?)='(.*)'$", config_list, re.MULTILINE))
    return values.get(f":env:.{name}") or values.get(f"global.{name}") or values.get(f"install.{name}")


def build_pip_config(folder: Path, cert: str | None) -> str | None:
    """Write a pip.conf (and the CA bundle it names) for the build's RUN steps into `folder`; its mount.

    Our machines reach PyPI through a TLS-intercepting proxy whose CA only the host trusts (pip's `cert`
    setting). The build's pip gets the same trust from this folder, mounted read-only at /etc/xdg/pip (a
    site-wide pip config location) during the build only: the image itself keeps its own CA bundle.
    """
    if not cert:
        return None
    shutil.copyfile(cert, folder / "ca.crt")
    (folder / "pip.conf").write_text(f"[global]\ncert = {PIP_CONFIG_MOUNT}/ca.crt\n")
    return f"{folder}:{PIP_CONFIG_MOUNT}:ro"


def bud_arguments(
    dockerfile: Path,
    tag: str,
    context: Path,
    torch: TorchSource,
    build_args: Sequence[str] = (),
    mounts: Sequence[str] = (),
) -> list[str]:
    """`buildah bud` arguments (after the global flags). `mounts` are `HOST:CONTAINER:ro` volumes."""
    arguments = ["bud", "--isolation", ISOLATION, "--network", "host", "--pull=never", "--format", "docker"]
    arguments += ["--file", str(dockerfile), "--tag", tag]
    if torch.pip_args:
        arguments += ["--build-arg", f"TORCH_PIP_ARGS={torch.pip_args}"]
    for build_arg in build_args:
        arguments += ["--build-arg", build_arg]
    for volume in [*(f"{folder}:{folder}:ro" for folder in torch.mounts), *mounts]:
        arguments += ["--volume", volume]
    return [*arguments, str(context)]


# ---- actions ----------------------------------------------------------------------------------------------------


def ensure_tools(names: Sequence[str]) -> None:
    """Install missing tools with apt-get when we are root on Debian/Ubuntu; otherwise raise with the command."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    packages = [TOOL_PACKAGES[name] for name in missing]
    command = ["apt-get", "install", "-y", "-qq", *packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ImageError(
            f"{', '.join(missing)} missing. Install with `sudo apt-get install {' '.join(packages)}` (Debian/Ubuntu), "
            "or build with Docker: see docs/sagemaker.md. buildah needs root here."
        )
    print(f"image: installing {' '.join(packages)} with apt-get", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)


def prepare_base(buildah: Buildah, reference: str, fresh: bool) -> str:
    """Make `reference` available locally; a sentence saying what the base is."""
    recipe = STAND_INS.get(reference)
    config = buildah.image_config(reference)
    action = "rebuild" if fresh and recipe is not None else base_action(config, recipe.digest if recipe else None)
    if action == "use":
        labels = config.get("Labels") or {}
        if STAND_IN_LABEL in labels:
            return (
                f"STAND-IN for {reference} (built earlier from the Debian archive, recipe {labels.get(RECIPE_LABEL)})"
            )
        return f"{reference} (found in the local image store)"
    if action == "pull":
        print(f"image: pulling {reference}", flush=True)
        if buildah.pull(reference):
            return f"{reference} (pulled)"
        if recipe is None:
            raise ImageError(f"cannot pull {reference}, and there is no stand-in recipe for it")
        print(f"image: {reference} cannot be pulled here: building a stand-in from the Debian archive", flush=True)
    else:
        print(f"image: rebuilding the stand-in for {reference} (--fresh-base, or its recipe changed)", flush=True)
    ensure_tools(["mmdebstrap"])
    started = time.monotonic()
    build_stand_in(buildah, reference, recipe)
    return (
        f"STAND-IN for {reference}, built now from the Debian archive in {time.monotonic() - started:.0f} s "
        f"({recipe.description}; recipe {recipe.digest})"
    )


def local_torch_wheel(pin: str) -> str | None:
    """The URL this machine's pip would install `pin` from (no download); None if pip cannot say."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet"]
    result = subprocess.run([*command, "--report", "-", pin], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    installs = json.loads(result.stdout).get("install") or []
    return installs[0]["download_info"]["url"] if installs else None


def host_pip_config() -> str:
    """`pip config list` of this machine (files and PIP_* variables)."""
    command = [sys.executable, "-m", "pip", "config", "list"]
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout


def torch_pin(pyproject: Path) -> str:
    return next(pin for pin in core_pins(pyproject) if pin.startswith("torch=="))


def build(args: argparse.Namespace) -> int:
    buildah = Buildah(storage_driver=args.storage_driver)
    ensure_tools(["buildah"])
    reference = base_image(args.dockerfile.read_text())
    started = time.monotonic()
    print(f"image: base {prepare_base(buildah, reference, args.fresh_base)}", flush=True)
    explicit = args.torch_pip_args.strip() or None
    torch = torch_source(explicit, None if explicit else local_torch_wheel(torch_pin(args.context / "pyproject.toml")))
    print(f"image: torch from {torch.description}", flush=True)
    with tempfile.TemporaryDirectory(prefix="image-pip-") as pip_folder:
        pip_mount = build_pip_config(Path(pip_folder), pip_setting(host_pip_config(), "cert"))
        arguments = bud_arguments(
            args.dockerfile, args.tag, args.context, torch, args.build_arg, [pip_mount] if pip_mount else []
        )
        command = buildah.command(*arguments)
        print("image: " + " ".join(command), flush=True)
        subprocess.run(command, check=True)
    size = buildah.image_size(args.tag)
    print(f"image: built {args.tag} in {time.monotonic() - started:.0f} s; size {size}", flush=True)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "docker" / "Dockerfile")
    parser.add_argument("--tag", default="bert-classifier:cpu")
    parser.add_argument("--context", type=Path, default=ROOT)
    parser.add_argument("--torch-pip-args", default="", help="TORCH_PIP_ARGS for the build (default: see above)")
    parser.add_argument("--build-arg", action="append", default=[], help="NAME=VALUE, as for docker build")
    parser.add_argument("--fresh-base", action="store_true", help="rebuild a stand-in base instead of reusing it")
    parser.add_argument("--storage-driver", default="vfs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return build(args)
    except ImageError as error:
        print(f"image: error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"image: error: {' '.join(map(str, error.cmd))} exited with {error.returncode}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
