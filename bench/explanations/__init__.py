"""`make bench-explanations`: what an explanation costs through the real TorchServe, and what explanations cost
the predictions served next to them, in docs/reports/explanations.md and
docs/reports/explanations-results.json."""
