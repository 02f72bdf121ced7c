"""`make bench`: the in-process ceiling, the real TorchServe under closed-loop load, matmul peaks and accuracy.

    python -m bench --out docs            # the full run (~10 minutes on 2 cores), writes docs/bench.md + .png
    python -m bench --out /tmp/b --quick  # a 1-2 minute smoke run

Every module but `__main__` is usable on its own; the pure parts (workloads, percentiles, report rendering)
are unit-tested in `tests/unit/test_bench.py`.
"""
