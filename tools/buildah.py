"""buildah, daemonless, as `make image` and `make image-test` use it: the one place that knows its flags.

`chroot` isolation and the `vfs` storage driver need no container runtime, no kernel overlay support and no
user namespaces, so they work inside the sandboxes our machines and CI run in. Every command here runs as root
on the machine's default image store (`/var/lib/containers/storage`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

DOCKER_HUB = "docker.io"
ISOLATION = "chroot"


def docker_reference(name: str) -> str:
    """The fully qualified name Docker gives a short image name: `python:3.11` -> `docker.io/library/python:3.11`.

    buildah resolves short names through registries.conf, which may name no registry at all; Docker always
    means Docker Hub. A name whose first part has a dot or colon, or is `localhost`, already names a registry.
    """
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"{DOCKER_HUB}/{name}" if rest else f"{DOCKER_HUB}/library/{name}"


@dataclass(frozen=True)
class Buildah:
    """buildah with a fixed storage driver (`bud` and `run` take `--isolation ISOLATION`)."""

    storage_driver: str = "vfs"
    executable: str = "buildah"

    def command(self, *args: str) -> list[str]:
        """`buildah --storage-driver DRIVER <args>`."""
        return [self.executable, "--storage-driver", self.storage_driver, *args]

    def run(self, *args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=capture, text=True, check=check)

    def image_config(self, reference: str) -> dict | None:
        """The OCI config (`Labels`, `Env`, `Entrypoint`, `Cmd`, `User`...) of a local image; None if absent."""
        result = self.run("inspect", "--type", "image", reference, capture=True, check=False)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)["OCIv1"].get("config") or {}

    def image_size(self, reference: str) -> str:
        """The image's size as buildah reports it (uncompressed layers, e.g. "1.77 GB")."""
        return self.run("images", "--noheading", "--format", "{{.Size}}", reference, capture=True).stdout.strip()

    def pull(self, reference: str) -> bool:
        """Try to pull `reference`; False (and buildah's reason on stderr) when the registry cannot be reached."""
        return self.run("pull", "--quiet", reference, check=False).returncode == 0

    def from_image(self, reference: str) -> str:
        """A new working container from a local image (never pulled); its name."""
        return self.run("from", "--pull-never", reference, capture=True).stdout.strip()

    def remove_container(self, container: str) -> None:
        self.run("rm", container, capture=True, check=False)

    def mount(self, container: str) -> Path:
        return Path(self.run("mount", container, capture=True).stdout.strip())
