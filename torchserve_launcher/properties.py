"""TorchServe's config.properties: read one, write one, or change some keys of one and keep the rest."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path


def read_properties(path: str | Path) -> dict[str, str]:
    """A Java properties file of `key=value` lines (comments and blank lines skipped)."""
    properties = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            properties[key.strip()] = value.strip()
    return properties


def render_properties(properties: Mapping[str, object], header: str = "") -> str:
    """`key=value` lines, in order, after `header` (comment lines)."""
    return header + "".join(f"{key}={value}\n" for key, value in properties.items())


def override_properties(text: str, settings: Mapping[str, object]) -> str:
    """`text` with each key of `settings` set to its value: its line replaced in place, or appended."""
    for key, value in settings.items():
        pattern = re.compile(rf"^{re.escape(key)}=.*$", re.MULTILINE)
        line = f"{key}={value}"
        # A function, not the string: a value may hold backslashes (a regex, a Windows path) re.sub would read.
        text = (
            pattern.sub(lambda _, line=line: line, text) if pattern.search(text) else text.rstrip("\n") + f"\n{line}\n"
        )
    return text
