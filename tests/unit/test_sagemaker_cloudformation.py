"""deploy/sagemaker/*.yaml: the CloudFormation templates are what the generator writes, carry the bench-derived
defaults, and pass cfn-lint (also run by `make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.test_sagemaker_deploy import assert_a_5xx_rate_alarm
from tools.bench_figures import capacity
from tools.sagemaker_deploy import calls
from tools.sagemaker_deploy.cloudformation import OUTPUT, write_templates
from tools.sagemaker_deploy.role import VPC_ACTIONS

pytestmark = pytest.mark.unit


def template(kind: str) -> dict:
    return yaml.safe_load((OUTPUT / f"{kind}.yaml").read_text())


def test_committed_templates_are_what_the_generator_writes(tmp_path):
    for path in write_templates(tmp_path):
        assert path.read_text() == (OUTPUT / path.name).read_text(), f"run `make sagemaker-templates`: {path.name}"


def test_the_realtime_template_tracks_invocations_with_the_bench_target_and_updates_blue_green():
    realtime = template("realtime")
    default = realtime["Parameters"]["TargetInvocationsPerInstance"]["Default"]
    assert default == calls.target_invocations_per_instance(capacity().max_requests_per_s)
    resources = realtime["Resources"]
    policy = resources["ScalingPolicy"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    deployment = resources["Endpoint"]["Properties"]["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert deployment["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": {"Ref": "RollbackAlarm"}}]


def test_async_and_serverless_templates_carry_their_settings():
    async_config = template("async")["Resources"]["EndpointConfig"]["Properties"]["AsyncInferenceConfig"]
    assert async_config["OutputConfig"]["S3OutputPath"] == {"Ref": "S3OutputPath"}
    serverless = template("serverless")["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert serverless["ServerlessConfig"] == {
        "MemorySizeInMB": {"Ref": "MemorySizeInMB"},
        "MaxConcurrency": {"Ref": "MaxConcurrency"},
    }


def test_templates_pass_cfn_lint(tmp_path):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), *map(str, sorted(OUTPUT.glob("*.yaml")))], capture_output=True,
                            text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yaml"  # cfn-lint does catch a template CloudFormation would refuse
    broken.write_text((OUTPUT / "realtime.yaml").read_text().replace("TargetValue:", "TargetValu:"))
    assert subprocess.run([str(cfn_lint), str(broken)], capture_output=True, timeout=300, check=False).returncode != 0


def role_statements(kind: str) -> list[dict]:
    role = template(kind)["Resources"]["ExecutionRole"]
    assert role["Condition"] == "CreateRole"
    [policy] = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("kind", ["realtime", "async"])
def test_instance_endpoints_run_the_model_without_network_in_an_optional_vpc_with_an_optional_kms_key(kind):
    resources = template(kind)["Resources"]
    model = resources["Model"]["Properties"]
    assert model["EnableNetworkIsolation"] is True  # the image needs no egress: SageMaker fetches the model
    assert model["VpcConfig"]["Fn::If"][0] == "HasVpc"
    assert model["ExecutionRoleArn"] == {
        "Fn::If": ["CreateRole", {"Fn::GetAtt": ["ExecutionRole", "Arn"]}, {"Ref": "ExecutionRoleArn"}]
    }
    config = resources["EndpointConfig"]["Properties"]
    assert config["KmsKeyId"] == {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    if kind == "async":
        assert config["AsyncInferenceConfig"]["OutputConfig"]["KmsKeyId"] == config["KmsKeyId"]


def test_serverless_sets_neither_network_isolation_nor_a_vpc_which_it_does_not_support():
    model = template("serverless")["Resources"]["Model"]["Properties"]
    assert "EnableNetworkIsolation" not in model
    assert "VpcConfig" not in model
    assert "SubnetIds" not in template("serverless")["Parameters"]


@pytest.mark.parametrize("kind", ["realtime", "async", "serverless"])
def test_the_created_role_reads_only_the_model_object_and_grants_no_wildcard_actions(kind):
    statements = role_statements(kind)
    actions = [action for statement in statements for action in _plain(statement).get("Action", [])]
    assert all(not action.endswith("*") for action in actions)
    s3 = [
        _plain(statement) for statement in statements if any(a.startswith("s3:") for a in _plain(statement)["Action"])
    ]
    model_read = s3[0]
    assert model_read["Action"] == ["s3:GetObject"]
    assert model_read["Resource"]["Fn::Sub"][1]["Path"]["Fn::Select"][1]["Fn::Split"][1] == {"Ref": "ModelDataUrl"}
    wildcard = [statement["Action"] for statement in map(_plain, statements) if statement.get("Resource") == "*"]
    assert sorted(map(tuple, wildcard)) == sorted(
        [("ecr:GetAuthorizationToken",), ("cloudwatch:PutMetricData",)]
        + ([] if kind == "serverless" else [tuple(VPC_ACTIONS)])
    )
    prefixes = [statement["Resource"]["Fn::Sub"][1]["Path"] for statement in s3[1:]]
    expected = ["AsyncInputS3Uri", "S3OutputPath"] if kind == "async" else []
    assert [path["Fn::Select"][1]["Fn::Split"][1]["Ref"] for path in prefixes] == expected


def _plain(statement: dict) -> dict:
    """A statement, or the statement of an `Fn::If` that adds it under a condition."""
    return statement["Fn::If"][1] if "Fn::If" in statement else statement


@pytest.mark.parametrize("kind", ["realtime", "async"])
def test_the_rollback_alarm_is_a_5xx_rate_not_any_5xx(kind):
    assert_a_5xx_rate_alarm(template(kind)["Resources"]["RollbackAlarm"]["Properties"])
