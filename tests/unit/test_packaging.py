"""pyproject's explicit package list holds every package of the repository: an editable install finds a package
left out of it, a built wheel (the images install one) does not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser from PyPI
    import tomli as tomllib

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]


def test_every_package_with_an_init_is_in_the_package_list():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    folders = {name: ROOT / path for name, path in setuptools.get("package-dir", {}).items()}
    found = set()
    for top in {name.split(".")[0] for name in listed}:
        base = folders.get(top, ROOT / top)
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            found.add(".".join((top, *parts)))
    assert found - listed == set(), "packages missing from pyproject's [tool.setuptools] packages"
