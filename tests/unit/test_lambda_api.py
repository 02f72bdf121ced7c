"""deploy/lambda/api.yaml: the Lambda function behind an HTTP API is what the generator writes, passes cfn-lint,
and closes what the plain recipe leaves open (authorizer, throttling, reserved concurrency, one CORS origin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.lambda_api import OUTPUT, ROUTES, write_template

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load((OUTPUT / "api.yaml").read_text())


def test_the_committed_template_is_what_the_generator_writes(tmp_path):
    written = write_template(tmp_path)
    assert written.read_text() == (OUTPUT / "api.yaml").read_text(), "run `make lambda-template`"


def test_the_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(OUTPUT / "api.yaml")], capture_output=True, text=True, timeout=300,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_route_needs_a_jwt_from_the_named_issuer_and_audience(template):
    resources = template["Resources"]
    routes = [resource["Properties"] for resource in resources.values() if resource["Type"].endswith("::Route")]
    assert sorted(route["RouteKey"] for route in routes) == sorted(ROUTES.values())
    for route in routes:
        assert (route["AuthorizationType"], route["AuthorizerId"]) == ("JWT", {"Ref": "Authorizer"})
    jwt = resources["Authorizer"]["Properties"]["JwtConfiguration"]
    assert jwt == {"Issuer": {"Ref": "JwtIssuer"}, "Audience": [{"Ref": "JwtAudience"}]}
    assert "Default" not in template["Parameters"]["JwtIssuer"]  # no deployment without one


def test_the_stage_throttles_and_the_function_has_reserved_concurrency(template):
    resources = template["Resources"]
    throttling = resources["Stage"]["Properties"]["DefaultRouteSettings"]
    assert set(throttling) == {"ThrottlingRateLimit", "ThrottlingBurstLimit"}
    function = resources["Function"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert function["Timeout"] < 30  # within the HTTP API's integration timeout


def test_cors_allows_one_named_origin_or_none_and_explanations_are_off_by_default(template):
    cors = template["Resources"]["Api"]["Properties"]["CorsConfiguration"]
    condition, allowed, otherwise = cors["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AllowedOrigin"}, ""]}]}
    assert allowed["AllowOrigins"] == [{"Ref": "AllowedOrigin"}]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert template["Parameters"]["AllowedOrigin"]["Default"] == ""
    variables = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert variables["BERT_CLASSIFIER_EXPLANATIONS"] == {"Ref": "Explanations"}
    assert template["Parameters"]["Explanations"]["Default"] == "off"
