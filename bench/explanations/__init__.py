"""`make bench-explanations`: what an explanation costs through the real TorchServe, and what explanations cost
the predictions served next to them (issue 16), in docs/explanations.md and docs/explanations-results.json."""
