"""The report of one bench run: bench.md (`markdown`), bench.png (`plot`), from `Results` (`bench.records`).

python -m bench.report docs/reports/bench-results.json     # render bench.md and bench.png there again
"""

from __future__ import annotations

from pathlib import Path

from ..records import Results
from .markdown import render_markdown

RESULTS_NAME = "bench-results.json"


def write_report(results: Results, out: Path, save_results: bool = True) -> list[Path]:
    """bench.md, bench.png (when anything was served) and, unless rendering saved results, bench-results.json."""
    out.mkdir(parents=True, exist_ok=True)
    markdown, png = out / "bench.md", out / "bench.png"
    paths = [markdown]
    if results.served:
        from .plot import plot

        plot(results, png)
        paths.append(png)
    markdown.write_text(render_markdown(results, png.name if results.served else None), encoding="utf-8")
    if save_results:
        paths.append(results.save(out / RESULTS_NAME))
    return paths
