"""A Batch Transform job's traffic against the image's entrypoint, run on this host as in
test_sagemaker_serve.py: JSON lines and CSV files split with SplitType=Line, BatchStrategy=MultiRecord and
MaxPayloadInMB=1, answers assembled with AssembleWith=Line (`batch_transform.py`: a stand-in for SageMaker's
side, which cannot run here). The output must have exactly one line per input line, in order, each the answer for
that line's text (checked against the same model in process), so that JoinSource=Input pairs them right.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
import yaml

from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import read_settings
from tests.conftest import save_tiny_bert
from tests.integration.batch_transform import run_job
from tests.integration.test_sagemaker_serve import start_serve
from tools.sagemaker_artifact import build_artifact

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LINES = 600
MAX_PAYLOAD_MB = 1
PRECISION = "fp32"
WORDS = ("shares", "market", "striker", "goal", "minister", "vote", "film", "album", "chip", "software", "bank")


def texts() -> list[str]:
    """Lines of 20 to 5,000 characters, some with commas and quotes (CSV must quote them): about 1.3 MB in all."""
    rng = random.Random(17)
    lines = []
    for index in range(LINES):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 700))]
        text = f"Item {index}: " + " ".join(words)
        if index % 7 == 0:
            text += ', said "the officials", again'
        lines.append(text)
    return lines


@pytest.fixture(scope="module")
def opt_ml(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("batch")
    model = save_tiny_bert(work / "saved", initializer_range=0.2)
    artifact = build_artifact(model, work / "model.tar.gz")
    import tarfile

    with tarfile.open(artifact) as archive:
        archive.extractall(work / "opt-ml" / "model", filter="data")
    return work / "opt-ml"


@pytest.fixture(scope="module")
def serve(opt_ml, tmp_path_factory):
    # docs/sagemaker.md "Batch Transform": a mini-batch of many lines needs higher per-request caps. fp32 on both sides:
    # bf16 scores move by up to 0.005 with how texts fall into micro-batches, and order is checked by score.
    instance = start_serve(
        opt_ml,
        tmp_path_factory.mktemp("serve"),
        BERT_CLASSIFIER_MAX_TEXTS_PER_REQUEST="5000",
        BERT_CLASSIFIER_MAX_TOKENS_PER_REQUEST=str(5000 * 256),
        BERT_CLASSIFIER_PRECISION=PRECISION,
    )
    yield instance
    instance.kill()


@pytest.fixture(scope="module")
def expected(opt_ml) -> list[dict]:
    handler = yaml.safe_load((opt_ml / "model" / "code" / "model-config.yaml").read_text())["handler"]
    handler |= {"max_texts_per_request": LINES, "max_tokens_per_request": LINES * 256, "precision": PRECISION}
    service = InferenceService.load(opt_ml / "model", read_settings(handler, env={}))
    return json.loads(service.handle(Request({"data": texts()}, "application/json")).body)


def invoker(serve, content_type: str):
    def invoke(body: bytes) -> bytes:
        response = serve.post(body, content_type, Accept=content_type)
        assert response.status_code == 200, response.text[:500]
        assert response.headers["Content-Type"] == content_type
        return response.content

    return invoke


def check(output_lines: list[dict], expected: list[dict]) -> None:
    assert len(output_lines) == len(expected)
    assert [line["label"] for line in output_lines] == [result["label"] for result in expected]
    assert [line["score"] for line in output_lines] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_jsonlines_job_gives_one_output_line_per_input_line_in_order(serve, expected):
    data = "".join(json.dumps({"text": text}) + "\n" for text in texts()).encode()
    output, requests = run_job(data, MAX_PAYLOAD_MB, invoker(serve, "application/jsonlines"))
    assert requests >= 2, "the file must span several mini-batches"
    check([json.loads(line) for line in output.decode().split("\n")[:-1]], expected)


def test_csv_job_gives_one_output_line_per_input_line_in_order(serve, expected):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([text] for text in texts())
    output, requests = run_job(buffer.getvalue().encode(), MAX_PAYLOAD_MB, invoker(serve, "text/csv"))
    assert requests >= 2
    rows = list(csv.reader(io.StringIO(output.decode())))
    check([{"label": label, "score": float(score)} for label, _, score in rows], expected)
