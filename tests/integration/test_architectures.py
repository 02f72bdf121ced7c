"""The architecture matrix: a tiny random classifier of each architecture in `tests/architectures.py`, archived as
`make archive GATE=accept` archives (ONNX export and int8 included) and served by one real TorchServe, where each
architecture's archives are registered, checked and unregistered in turn.

Per architecture, `CHECKS` in order: the start-up line's `forward=packed|padded`; the ONNX export; fp32 scores
served under `engine: torch` and `engine: onnxruntime` within `PARITY` of transformers' own
`AutoModelForSequenceClassification` on the same tokenizer; int8 and bf16 (when this CPU has native bf16) give
fp32's label on every text fp32 ranks clearly; one explanation; text pairs under torch and ONNX Runtime fp32 within
`PARITY` of transformers' scores of `tokenizer(a, b)`. Each check asserts and returns its cell of the
table in docs/architectures.md, which must be what the run measured (`make architectures-doc` rewrites it).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from bert_classifier.device import cpu_supports_bf16
from tests.architecture_page import PAGE, render_table, table_in, with_table, without_column
from tests.architectures import ARCHITECTURES, Architecture, save_tiny_model, tokenizer_corpus
from tests.integration.conftest import EXPLANATIONS_SHARED, READY_TIMEOUT, ROOT, archive, served_variant
from tools.archive import build_engines
from tools.management_client import ManagementClient, wait_ready
from tools.server import LocalTorchServe, wait_for

pytestmark = pytest.mark.integration

WRITE_PAGE = "ARCHITECTURES_DOC"
"""Set to `write` to rewrite the table in docs/architectures.md from this run instead of checking it."""
PARITY = 1e-4
"""Largest absolute score difference from transformers allowed for fp32 (served scores have 6 decimals)."""
DECISIVE = 0.05
"""int8 and bf16 must give fp32's label on every text whose best fp32 score leads the second by more than this."""
NOT_RUN = "not run here"
VARIANTS = {"torch": ("torch", "fp32"), "onnx": ("onnxruntime", "fp32"), "int8": ("onnxruntime", "int8")}
if cpu_supports_bf16():
    VARIANTS["bf16"] = ("torch", "bf16")
TEXTS = (
    "Shares in the bank rose 5% after profits beat forecasts.",
    "The striker scored twice as the leaders stretched their lead to six points.",
    "Ministers defended the plans for the new education bill in parliament.",
    "The film festival opens with a record number of premieres, critics say.",
    "A new phone promises a battery that lasts all week.",
    "Naïve investors in Zürich bought 🚀 tokens — and lost.",
    "Rates held.",
    " ".join(["The company said sales in the last three months of the year had risen faster than expected."] * 30),
)
"""Headlines, non-ASCII text, a two-word text and one far longer than `max_length` (truncated alike on both sides)."""


@dataclass
class Served:
    """One architecture's model, registered under each of `VARIANTS`, and transformers' scores for `TEXTS`."""

    architecture: Architecture
    server: LocalTorchServe
    model_dir: Path
    engines: dict
    """`build_engines`' record (the gate's verdicts and the ONNX export)."""
    names: dict[str, str]
    reference: list[list[float]]
    figures: dict[str, float | int] = field(default_factory=dict)
    """Measured figures (max abs score difference per fp32 variant, texts whose labels were compared), printed."""

    def scores(self, variant: str, items: list | None = None) -> list[list[float]]:
        """Served scores of `items` (default: `TEXTS`; a pair is `{"text", "text_pair"}`) under `variant`."""
        url = f"{self.server.inference_url}/predictions/{self.names[variant]}"
        body = {"data": items or list(TEXTS), "parameters": {"return_all_scores": True}}
        answer = requests.post(url, json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        return [[entry["score"] for entry in sorted(r["scores"], key=lambda e: e["label_id"])] for r in answer.json()]


def forward(served: Served) -> str:
    """What the start-up line of the torch registration says: `packed` or `padded`."""
    name = served.names["torch"]
    kinds = set(re.findall(rf"W-\d+-{name}_[\d.]+-stdout MODEL_LOG - loaded model .* forward=(\w+)",
                           served.server.model_log()))  # fmt: skip
    assert len(kinds) == 1, f"{name} logged {kinds or 'no start-up line'}"
    return kinds.pop()


def onnx_export(served: Served) -> str:
    export = served.engines["export"]
    assert export["parity"] <= PARITY  # export_onnx refuses worse than its own bound before this
    return "yes"


def fp32_parity(variant: str) -> Callable[[Served], str]:
    def check(served: Served) -> str:
        got = served.scores(variant)
        worst = max(
            abs(a - b) for row, ref in zip(got, served.reference, strict=True) for a, b in zip(row, ref, strict=True)
        )
        served.figures[variant] = worst
        assert worst <= PARITY, f"{variant} scores differ from transformers' by {worst:.2e}"
        return f"≤ {power_of_ten_above(worst)}"

    return check


def pair_parity(served: Served) -> str:
    """Text pairs (each text with the next, as `tokenizer(a, b)` encodes them) under torch and ONNX Runtime fp32,
    against transformers' scores of the same pairs."""
    firsts, seconds = list(TEXTS), [*TEXTS[1:], TEXTS[0]]
    reference = reference_scores(served.model_dir, firsts, seconds)
    items = [{"text": a, "text_pair": b} for a, b in zip(firsts, seconds, strict=True)]
    bounds = []
    for variant in ("torch", "onnx"):
        got = served.scores(variant, items)
        worst = max(abs(a - b) for row, ref in zip(got, reference, strict=True) for a, b in zip(row, ref, strict=True))
        served.figures[f"{variant} pairs"] = worst
        assert worst <= PARITY, f"{variant} pair scores differ from transformers' by {worst:.2e}"
        bounds.append(f"≤ {power_of_ten_above(worst)}")
    return " / ".join(bounds)


def label_agreement(variant: str) -> Callable[[Served], str]:
    def check(served: Served) -> str:
        if variant not in served.names:
            return NOT_RUN
        decisive = [i for i, ref in enumerate(served.reference) if margin(ref) > DECISIVE]
        assert len(decisive) >= len(TEXTS) // 2, "too few texts with a clear fp32 label to compare labels on"
        got = served.scores(variant)
        differ = [i for i in decisive if argmax(got[i]) != argmax(served.reference[i])]
        assert not differ, f"{variant} changes the label of texts {differ}"
        served.figures[f"{variant} texts compared"] = len(decisive)
        return "same labels"

    return check


def explanations(served: Served) -> str:
    """One /explanations call: words are the text's own characters, without whitespace, and the explained score
    is the one predictions serve."""
    text = TEXTS[5]
    answer = requests.post(f"{served.server.inference_url}/explanations/{served.names['torch']}", json={"text": text},
                           timeout=120)  # fmt: skip
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert all(w["word"] == text[w["start"] : w["end"]] == w["word"].strip() != "" for w in result["words"])
    assert "".join(w["word"] for w in result["words"]) == "".join(text.split())
    assert result["score"] == pytest.approx(served.scores("torch")[5][result["label_id"]], abs=1e-5)
    return "yes"


CHECKS: tuple[tuple[str, Callable[[Served], str]], ...] = (
    ("forward", forward),
    ("ONNX export", onnx_export),
    ("torch fp32 vs transformers", fp32_parity("torch")),
    ("onnxruntime fp32 vs transformers", fp32_parity("onnx")),
    ("onnxruntime int8", label_agreement("int8")),
    ("torch bf16", label_agreement("bf16")),
    ("explanations", explanations),
    ("text pairs, torch / onnxruntime fp32 vs transformers", pair_parity),
)
"""The table's columns after the architecture's: each check asserts what it claims and returns its cell. Another
column (text pairs, say) is one more function and one more entry here."""


def power_of_ten_above(value: float) -> str:
    """The smallest power of ten at least `value` ("1e-06"): a bound that stays put between runs and hosts."""
    return f"{10.0 ** math.ceil(math.log10(max(value, 1e-9))):.0e}"


def margin(scores: list[float]) -> float:
    best, second = sorted(scores, reverse=True)[:2]
    return best - second


def argmax(scores: list[float]) -> int:
    return max(range(len(scores)), key=scores.__getitem__)


class Matrix:
    """Builds, registers and checks one architecture at a time on one server; each row is measured once."""

    def __init__(self, server: LocalTorchServe, store: Path, work: Path) -> None:
        self.server, self.store, self.work = server, store, work
        self.client = ManagementClient(server.management_url)
        self.corpus = tokenizer_corpus()
        self.rows: dict[str, list[str] | Exception] = {}

    def row(self, architecture: Architecture) -> list[str]:
        if architecture.name not in self.rows:
            try:
                self.rows[architecture.name] = self._measure(architecture)
            except Exception as error:
                self.rows[architecture.name] = error
                raise
        row = self.rows[architecture.name]
        if isinstance(row, Exception):
            pytest.fail(f"{architecture.name} failed earlier: {row}")
        return row

    def _measure(self, architecture: Architecture) -> list[str]:
        started = time.monotonic()
        served = self._serve(architecture)
        try:
            row = [architecture.title, f"`{architecture.model_class}`"] + [check(served) for _, check in CHECKS]
        finally:
            for name in served.names.values():
                self.client.unregister(name)
        figures = ", ".join(f"{name} {value:.2e}" if isinstance(value, float) else f"{name} {value}"
                            for name, value in served.figures.items())  # fmt: skip
        print(f"\n{architecture.name} ({time.monotonic() - started:.0f} s): max abs score difference from "
              f"transformers: {figures}")  # fmt: skip
        return row

    def _serve(self, architecture: Architecture) -> Served:
        base = architecture.name.replace("-", "_")
        model_dir = save_tiny_model(architecture, self.work / base / "model", self.corpus)
        engines_dir = self.work / base / "engines"
        record = build_engines(model_dir, engines_dir, ROOT / "model-config.yaml", gate="accept")
        names = {variant: f"{base}_{variant}" for variant in VARIANTS}
        for variant, name in names.items():
            engine, precision = VARIANTS[variant]
            config = self._config(name, engine=engine, precision=precision)
            archive(model_dir, self.store, name, config=config, engines_dir=engines_dir)
        # Registered together, so the workers start side by side on the cores.
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(self._register, names.values()))
        for variant, name in names.items():
            engine, precision = VARIANTS[variant]
            assert served_variant(self.server, name) == {"engine": engine, "precision": precision}
        return Served(architecture, self.server, model_dir, record, names, reference_scores(model_dir, list(TEXTS)))

    def _register(self, name: str) -> None:
        self.client.register(f"{name}.mar", model_name=name)
        wait_ready(self.client, name, inference_url=self.server.inference_url, timeout=READY_TIMEOUT)

    def _config(self, name: str, **handler) -> Path:
        shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
        shipped["handler"] |= handler
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(shipped | {"minWorkers": 1, "maxWorkers": 1}, sort_keys=False))
        return path


def reference_scores(model_dir: Path, texts: list[str], text_pairs: list[str] | None = None) -> list[list[float]]:
    """transformers' own scores: the folder's tokenizer (`tokenizer(texts, text_pairs)`, truncated at the shipped
    `max_length`) and `AutoModelForSequenceClassification` in fp32, one padded batch."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    max_length = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]["max_length"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    batch = tokenizer(texts, text_pairs, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return torch.softmax(model(**batch).logits, dim=-1).tolist()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    store = tmp_path_factory.mktemp("matrix-store")
    server = LocalTorchServe(model_store=store, env=EXPLANATIONS_SHARED).start()
    try:
        client = ManagementClient(server.management_url)
        wait_for(lambda: _answers(client), timeout=120, what="the management API")
        yield Matrix(server, store, tmp_path_factory.mktemp("matrix"))
    finally:
        server.stop()
        server.cleanup()


def _answers(client: ManagementClient) -> bool:
    try:
        client.list_models()
    except requests.RequestException:
        return False
    return True


@pytest.mark.parametrize("architecture", ARCHITECTURES, ids=lambda a: a.name)
def test_each_architecture_archives_serves_and_scores_as_transformers_does(matrix, architecture):
    row = matrix.row(architecture)

    assert len(row) == 2 + len(CHECKS)


def test_the_table_in_docs_is_what_the_matrix_measured(matrix):
    header = ["architecture", "model class", *(title for title, _ in CHECKS)]
    measured = render_table(header, [matrix.row(architecture) for architecture in ARCHITECTURES])
    if os.environ.get(WRITE_PAGE) == "write":
        PAGE.write_text(with_table(PAGE.read_text(encoding="utf-8"), measured), encoding="utf-8")
    committed = table_in(PAGE.read_text(encoding="utf-8"))
    if "bf16" not in VARIANTS:  # this CPU has no native bf16: its column cannot be checked here
        bf16 = header.index("torch bf16")
        committed, measured = without_column(committed, bf16), without_column(measured, bf16)
    assert committed == measured, (
        f"docs/architectures.md's table is not what this run measured: `make architectures-doc` rewrites it\n{measured}"
    )
