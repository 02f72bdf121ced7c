"""bench.explanations: its results survive the trip through explanations-results.json, the report shows the
run's figures (medians over runs, errors, the first explanation), `--render` rewrites the report from saved
results, and the texts are cut from articles as documented."""

from __future__ import annotations

import pytest

from bench.explanations.__main__ import main
from bench.explanations.plan import QUICK, Plan
from bench.explanations.records import CostPoint, CostSample, ExplainResults, LayoutRun, LoadSummary
from bench.explanations.report import RESULTS_NAME, render
from bench.explanations.texts import cost_texts, first_sentence, first_words
from bench.records import Machine

pytestmark = pytest.mark.unit

ARTICLE = "Shares slide on news\n\nShares fell 5% on Monday. Traders said the fall was steep! More text follows here."


def load(per_second: float, p50: float, clients: int = 2, foreign: float = 0.1, **extra) -> LoadSummary:
    return LoadSummary(clients, 100, 10.0, per_second, p50, p50 * 2, p50 * 3, foreign_cores=foreign, **extra)


def sample_results() -> ExplainResults:
    return ExplainResults(
        command="python -m bench.explanations --out docs",
        quick=False,
        started="2026-01-02T03:04:05+00:00",
        plan=Plan(),
        machine=Machine(cpu="Test CPU", usable_cores=2, load_average_before=[1.0, 1.5, 2.0]),
        archive="model-store/bert_news_classification.mar (given)",
        settings={"explain_steps": 64, "max_explained_tokens": 256},
        pools={
            "bert": {"workers": 2, "batchSize": 8, "maxBatchDelay": 5},
            "bert_explain": {"workers": 1, "batchSize": 1, "maxBatchDelay": 100},
        },
        workers={"engine": "onnxruntime", "dtype": "int8", "torch_threads": 1},
        first_explanation_seconds=4.25,
        costs=[
            CostPoint(
                "sentence",
                [
                    CostSample(1, [30], [20], 200, 1.0, 64, 200, 0.02),
                    CostSample(1, [34], [24], 200, 1.5, 64, 200, 0.04),
                    CostSample(1, [32], [22], 200, 2.0, 64, 200, 0.03),
                ],
            ),
            CostPoint(
                "two-articles",
                [
                    CostSample(2, [256, 256], [500, 600], 200, 25.0, 64, 200, 0.2),
                    CostSample(2, [256, 200], [500, 150], 503, 30.0, None, 200, 0.1),
                ],
            ),
        ],
        layouts=[
            LayoutRun("alone", 0, load(50.0, 0.030)),
            LayoutRun("shared", 0, load(1.0, 2.0), load(0.3, 2.8, clients=1, errors={"503": 1})),
            LayoutRun("alone", 1, load(60.0, 0.040)),
            LayoutRun("shared", 1, load(5.0, 0.06, unfinished=2), load(0.4, 2.6, clients=1)),
        ],
        load_average_after=[2.0, 2.0, 2.0],
        duration_seconds=600.0,
    )


def rows(text: str, first_cell: str) -> list[list[str]]:
    """The rows starting with `first_cell` in the summary tables (before the list of every run)."""
    summary = text.split("## Every run")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in summary.splitlines()
            if line.startswith(f"| {first_cell}")]  # fmt: skip


def test_results_round_trip_through_json(tmp_path):
    results = sample_results()
    loaded = ExplainResults.load(results.save(tmp_path / RESULTS_NAME))
    assert loaded == results
    assert isinstance(loaded.layouts[1].explanations, LoadSummary)


def test_report_gives_the_medians_of_the_runs_of_each_layout():
    text = render(sample_results())
    [alone] = rows(text, "predictions alone, 2 workers")
    assert alone[1:5] == ["55.0", "35 ms", "70 ms", "105 ms"]
    [shared] = rows(text, "+ explanations on the same workers")
    # medians of (1, 5)/s and (2000, 60) ms; explanations 2.8 and 2.6 s; 1 error answer + 2 unanswered
    assert shared[1:9] == ["3.0", "1,030 ms", "2,060 ms", "3,090 ms", "2.70 s", "200", "3", "0.10"]
    assert "explain pool registered and idle" not in text.split("## Every run")[0]  # not measured: no row


def test_report_gives_the_cost_per_text_from_answered_requests_only():
    text = render(sample_results())
    [sentence] = rows(text, "one sentence")
    assert sentence[1:] == ["3", "32 (30–34)", "64", "1.50 s (1.00–2.00 s)", "0.03 s", "0"]
    [pair] = rows(text, "two full held-out articles")
    assert pair[1:] == ["2", "256 (200–256)", "64", "25.00 s (25.00–25.00 s)", "0.15 s", "1"]
    assert "took 4.25 s" in text


def test_report_names_the_command_the_machine_and_what_failed():
    results = sample_results()
    results.errors = ["cost: RuntimeError: boom"]
    text = render(results)
    assert "`python -m bench.explanations --out docs`" in text
    assert "Test CPU, 2 usable cores" in text
    assert "[1.0, 1.5, 2.0] before" in text
    assert "engine onnxruntime, dtype int8" in text
    assert "**Could not be measured:** cost: RuntimeError: boom" in text
    assert "quick smoke run" not in text


def test_render_rewrites_the_report_from_saved_results_without_measuring(tmp_path):
    saved = sample_results().save(tmp_path / RESULTS_NAME)
    before = saved.read_text()
    assert main(["--render", str(saved), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "explanations.md").read_text() == render(sample_results())
    assert not (tmp_path / "out" / RESULTS_NAME).exists()  # rendering never rewrites raw results
    assert saved.read_text() == before


def test_texts_are_cut_from_the_article_body():
    assert first_sentence(ARTICLE) == "Shares fell 5% on Monday."
    assert first_words(ARTICLE, 3) == "Shares fell 5%"
    requests = cost_texts([ARTICLE, "A\n\nb c.", "C\n\nd e."], "two-articles", 1)
    assert requests == [[ARTICLE.strip(), "A\n\nb c."]]
    assert cost_texts([ARTICLE, "A\n\nb c. d."], "sentence", 2) == [["Shares fell 5% on Monday."], ["b c."]]
    with pytest.raises(ValueError, match="4 articles needed"):
        cost_texts([ARTICLE], "two-articles", 2)


def test_quick_plan_is_shorter_in_every_phase():
    full = Plan()
    for name in ("cost_requests", "cost_seconds", "layout_seconds", "layout_repeats", "drain_seconds"):
        assert getattr(QUICK, name) < getattr(full, name), name
