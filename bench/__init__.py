"""`make bench`: the in-process ceiling, the real TorchServe under closed-loop load, matmul peaks and accuracy.

How to run it: `python -m bench --help` (`bench/__main__.py`); docs/performance.md says what it measures.
Every module but `__main__` is usable on its own and unit-tested in `tests/unit/test_bench_<module>.py`.
"""
