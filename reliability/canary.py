"""The privacy canary: a marker put into the text of every request the suite sends, searched for in every log.

Input text must never reach a log (docs/operating.md "Logs"). The canary is plain ASCII letters and digits, so it
survives JSON and CSV quoting and URL encoding unchanged; a log that wrote a body's raw bytes in UTF-16/32 or as hex is
searched for in those forms too.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

CANARY = "Zqxcanary7391"


def with_canary(text: str) -> str:
    """`text` with the canary in it, as a client's own words would be."""
    return f"{text} {CANARY}"


def canary_patterns(canary: str = CANARY) -> dict[str, re.Pattern[bytes]]:
    """The canary as a log could hold it: as text (any case), in UTF-16/32 byte order, as hex."""
    forms = {
        "text": canary.encode(),
        "utf-16-le": canary.encode("utf-16-le"),
        "utf-16-be": canary.encode("utf-16-be"),
        "utf-32-le": canary.encode("utf-32-le"),
        "hex": canary.encode().hex().encode(),
    }
    return {name: re.compile(re.escape(form), re.IGNORECASE) for name, form in forms.items()}


@dataclass(frozen=True)
class CanaryHit:
    """One log line that holds the canary: where, in which form, and the line with the canary masked."""

    path: str
    line: int
    form: str
    excerpt: str


def scan_logs(folders: list[Path], canary: str = CANARY) -> tuple[list[str], list[CanaryHit]]:
    """Every file under `folders` (recursively) that is a log, and each line holding the canary in any form."""
    patterns = canary_patterns(canary)
    scanned, hits = [], []
    for path in sorted({p for folder in folders if folder.exists() for p in folder.rglob("*") if _is_log(p)}):
        scanned.append(str(path))
        hits += _scan_file(path, patterns)
    return scanned, hits


def _is_log(path: Path) -> bool:
    return path.is_file() and (path.suffix in (".log", ".out", ".err") or ".log." in path.name)


def _scan_file(path: Path, patterns: dict[str, re.Pattern[bytes]]) -> list[CanaryHit]:
    hits = []
    data = path.read_bytes()
    if path.suffix == ".gz":  # a log4j2 rollover
        data = gzip.decompress(data)
    for number, line in enumerate(data.splitlines(), start=1):
        for form, pattern in patterns.items():
            if pattern.search(line):
                masked = pattern.sub(b"<CANARY>", line).decode("utf-8", "replace")
                hits.append(CanaryHit(str(path), number, form, _excerpt(masked)))
                break
    return hits


def _excerpt(line: str, width: int = 200) -> str:
    """Around the first masked canary, so the report shows which code path wrote it."""
    at = max(line.find("<CANARY>"), 0)
    start = max(at - width // 2, 0)
    return line[start : start + width]
