"""bench.png: served throughput and p99 latency against concurrency per workload, with the in-process ceilings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..records import Results
from ..workloads import WORKLOADS
from .lookups import ceiling_best


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    served = results.served
    workloads = [w for w in WORKLOADS if any(p.workload == w for p in served)]
    counts = Counter(p.variant for p in served)
    # Variants measured at more than one concurrency per workload make lines; the one-change ones do not.
    names = [name for name in dict.fromkeys(p.variant for p in served) if counts[name] > len(workloads)]
    colors = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    figure, axes = plt.subplots(2, len(workloads), figsize=(5 * len(workloads), 8), squeeze=False)
    levels = sorted({p.concurrency for p in served})
    for column, workload in enumerate(workloads):
        top, bottom = axes[0][column], axes[1][column]
        for name in names:
            points = sorted((p for p in served if p.variant == name and p.workload == workload),
                            key=lambda p: p.concurrency)  # fmt: skip
            if not points:
                continue
            x = [p.concurrency for p in points]
            top.plot(x, [p.measured.texts_per_second for p in points], "o-", color=colors[name], label=name)
            bottom.plot(x, [p.measured.p99 * 1000 for p in points], "o-", color=colors[name], label=name)
        for precision, style in (("fp32", "--"), ("bf16", ":")):
            best = ceiling_best(results, workload, precision)
            if best:
                top.axhline(best.texts_per_second, color="gray", linestyle=style,
                            label=f"in-process ceiling {precision}")  # fmt: skip
        _style(top, bottom, workload, levels)
    m = results.machine
    quick = " (quick run)" if results.quick else ""
    figure.suptitle(f"TorchServe vs in-process ceiling — {m.cpu}, {m.usable_cores} cores{quick}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _style(top, bottom, workload: str, levels: list[int]) -> None:
    from matplotlib import ticker

    top.set_title(f"{workload}: throughput")
    top.set_ylabel("texts/s")
    bottom.set_title(f"{workload}: p99 latency")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_yscale("log")
    bottom.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    bottom.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    bottom.yaxis.set_minor_formatter(ticker.NullFormatter())
    for axis in (top, bottom):
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, [str(level) for level in levels])
        axis.set_xlabel("concurrent clients")
        axis.set_ylim(bottom=0 if axis is top else None)
        axis.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
