"""Stand-in base images, built from the Debian archive with mmdebstrap when a Dockerfile's base cannot be pulled.

Our machines reach Debian's archive and PyPI but no container registry. A stand-in gives a Dockerfile what its
official base gives it (the interpreter and pip on the same paths, pip installing for the whole image, the same
Debian release and apt sources), so the Dockerfile builds unchanged on top of it. It is not the official image:
its Python is Debian's build (bookworm: 3.11.2), and its labels say it is a stand-in and which recipe made it.

The interpreter's paths come from a virtual environment created *at* the official prefix (`python -m venv
/usr/local`): that gives exactly the official layout (`/usr/local/bin/python`, `python3`, `python3.11`, `pip`,
`pip3`, `pip3.11`; packages in `/usr/local/lib/python3.11/site-packages`), and pip may install there without
Debian's externally-managed guard, as in the official image.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field

from tools.buildah import Buildah, docker_reference

STAND_IN_LABEL = "io.github.bert-classifier.stand-in"
"""Set on every stand-in: what it stands in for. An image without it is the real base."""
RECIPE_LABEL = "io.github.bert-classifier.stand-in-recipe"
"""The digest of the recipe that built it: a changed recipe rebuilds the stand-in."""

DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"
# What debian:bookworm-slim leaves out (its /etc/dpkg/dpkg.cfg.d/docker); the Dockerfile creates man1 for Java.
SLIM_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
PYTHON_PACKAGES = ("ca-certificates", "netbase", "tzdata", "python3.11", "python3-venv")
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_RUNTIME_MESSAGE = (
    "This is a stand-in for the AWS Lambda Python base image, built from Debian without the Lambda runtime "
    "interface client or emulator: it cannot run the function. Build on public.ecr.aws/lambda/python to run it."
)


@dataclass(frozen=True)
class StandIn:
    """How to build a stand-in for one base image: Debian packages, commands run in the new root, image config."""

    description: str
    suite: str = "bookworm"
    packages: tuple[str, ...] = PYTHON_PACKAGES
    hooks: tuple[str, ...] = ()
    """Shell commands run by mmdebstrap after installing (`$1` is the new root)."""
    scripts: tuple[tuple[str, str], ...] = ()
    """(path, text) of executable files written into the root afterwards."""
    env: tuple[tuple[str, str], ...] = ()
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    workdir: str = "/"
    labels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def digest(self) -> str:
        """A short digest of everything that shapes the image, so a changed recipe is noticed."""
        text = json.dumps([asdict(self), self.sources(), SLIM_EXCLUDES], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def sources(self) -> list[str]:
        """The apt sources of the official Debian images: the release, its updates and its security archive."""
        return [
            f"deb {DEBIAN_MIRROR} {self.suite} main",
            f"deb {DEBIAN_MIRROR} {self.suite}-updates main",
            f"deb {DEBIAN_SECURITY} {self.suite}-security main",
        ]


def _venv_at(prefix: str) -> str:
    return f'chroot "$1" python3.11 -m venv {prefix}'


PYTHON_SLIM = StandIn(
    description="Debian bookworm (minbase, slim excludes) with Debian's Python 3.11 and pip at /usr/local",
    hooks=(_venv_at("/usr/local"),),
    env=(("PATH", DEBIAN_PATH), ("LANG", "C.UTF-8")),
    cmd=("python3",),
)
LAMBDA_PYTHON = StandIn(
    description=(
        "Debian bookworm with Debian's Python 3.11 (not 3.12) and pip at /var/lang, /var/task and /var/runtime; "
        "no Lambda runtime client or emulator"
    ),
    hooks=(
        _venv_at("/var/lang"),
        'mkdir -p "$1/var/task" "$1/var/runtime"',
    ),
    scripts=(("lambda-entrypoint.sh", f"#!/bin/sh\necho '{NO_RUNTIME_MESSAGE}' >&2\nexit 1\n"),),
    env=(
        ("LANG", "C.UTF-8"),
        ("TZ", ":/etc/localtime"),
        ("PATH", "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
    ),
    entrypoint=("/lambda-entrypoint.sh",),
    workdir="/var/task",
)
STAND_INS = {
    docker_reference("python:3.11.13-slim-bookworm"): PYTHON_SLIM,
    docker_reference("public.ecr.aws/lambda/python:3.12"): LAMBDA_PYTHON,
}
"""Stand-ins by the fully qualified name of the base they replace (the `FROM` of docker/*Dockerfile)."""


def mmdebstrap_command(recipe: StandIn, target: str) -> list[str]:
    """mmdebstrap writing a minimal Debian root with the recipe's packages and hooks into `target`."""
    command = ["mmdebstrap", "--variant=minbase", "--include=" + ",".join(recipe.packages)]
    command += [f"--dpkgopt={option}" for option in SLIM_EXCLUDES]
    command += [f"--customize-hook={hook}" for hook in recipe.hooks]
    return [*command, recipe.suite, target, *recipe.sources()]


def config_arguments(recipe: StandIn, replaces: str) -> list[str]:
    """`buildah config` arguments: the recipe's image config plus the labels that mark it as a stand-in."""
    arguments = [f"--env={name}={value}" for name, value in recipe.env]
    arguments += [f"--cmd={json.dumps(list(recipe.cmd))}"] if recipe.cmd else []
    arguments += [f"--entrypoint={json.dumps(list(recipe.entrypoint))}"] if recipe.entrypoint else []
    arguments += [f"--workingdir={recipe.workdir}"]
    labels = {STAND_IN_LABEL: replaces, RECIPE_LABEL: recipe.digest, **dict(recipe.labels)}
    arguments += [f"--label={name}={value}" for name, value in labels.items()]
    return arguments


def build_stand_in(buildah: Buildah, reference: str, recipe: StandIn) -> None:
    """Debian root -> a scratch container -> an image tagged `reference`. Tagged only once complete."""
    container = buildah.run("from", "scratch", capture=True).stdout.strip()
    try:
        root = buildah.mount(container)
        subprocess.run(mmdebstrap_command(recipe, str(root)), check=True)
        for path, text in recipe.scripts:
            (root / path).write_text(text)
            (root / path).chmod(0o755)
        buildah.run("umount", container, capture=True)
        buildah.run("config", *config_arguments(recipe, reference), container)
        buildah.run("commit", "--quiet", "--format", "docker", container, reference, capture=True)
    finally:
        buildah.remove_container(container)
