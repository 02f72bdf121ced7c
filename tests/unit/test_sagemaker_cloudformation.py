"""deploy/sagemaker/*.yaml: the CloudFormation templates are what the generator writes, carry the bench-derived
defaults, and pass cfn-lint (also run by `make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.bench_figures import capacity
from tools.sagemaker_deploy import calls
from tools.sagemaker_deploy.cloudformation import OUTPUT, write_templates

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
