"""Facts about the machine a run used (the CPU, its vector instructions, package versions), for the model card
and the bench report."""

from __future__ import annotations

import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable)."""
    match = re.search(r"^flags\s*:\s*(.*)$", _read(cpuinfo), re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    match = re.search(r"^model name\s*:\s*(.*)$", _read(cpuinfo), re.MULTILINE)
    return match.group(1).strip() if match else platform.processor()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"
