"""`python -m tools.sagemaker_deploy`: every call path end to end against moto's SageMaker, Application Auto
Scaling and CloudWatch (no account, no network), and the dry run without credentials.

moto 5.2.5 does not implement SageMaker's UpdateEndpoint. In the blue/green tests that one call is answered by a
botocore `before-call` hook, the mechanism botocore's own Stubber uses: botocore has already validated its
parameters against the real SageMaker service model by then, and the hook records them; every other call,
before and after it, goes to moto.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from tools.bench_figures import capacity
from tools.sagemaker_deploy import actions, calls
from tools.sagemaker_deploy.__main__ import main
from tools.sagemaker_deploy.calls import ModelSpec, Scaling, TrafficShift

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bert-classifier:cpu"
ENDPOINT = "bert-news"
RESOURCE_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
NO_WAIT = {"wait": False}
CREATE_MODEL = calls.create_model


def model(name: str = "bert-news-v1", data: str = "s3://bucket/v1/model.tar.gz") -> ModelSpec:
    return ModelSpec(name, IMAGE, data, ROLE, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield actions.boto3_clients(REGION)


@pytest.fixture
def updates(aws):
    """Answers SageMaker UpdateEndpoint (not in moto) once botocore validated its parameters (as botocore's
    Stubber does: parameters seen at `before-parameter-build`, the answer given at `before-call`, which botocore
    emits only after validation); records each call's parameters and the scalable targets at that moment."""
    seen = []

    def record(params, **_):
        seen.append({"params": copy.deepcopy(params)})

    def answer(**_):
        seen[-1]["targets_during_update"] = aws.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
        return AWSResponse(None, 200, {}, None), {"EndpointArn": f"arn:aws:sagemaker:{REGION}:1:endpoint/{ENDPOINT}"}

    aws.sagemaker.meta.events.register("before-parameter-build.sagemaker.UpdateEndpoint", record)
    aws.sagemaker.meta.events.register("before-call.sagemaker.UpdateEndpoint", answer)
    return seen


def scaling() -> Scaling:
    return Scaling(calls.target_invocations_per_instance(100.0, 0.5), min_instances=1, max_instances=3)


def test_target_is_measured_max_requests_per_s_times_safety_factor_times_60():
    assert calls.target_invocations_per_instance(106.3, 0.5) == 3189.0
    assert calls.target_invocations_per_instance(10.0, 1.0) == 600.0
    with pytest.raises(ValueError, match="safety factor"):
        calls.target_invocations_per_instance(10.0, 1.5)


def test_realtime_endpoint_is_created_and_autoscaled_on_invocations_per_instance(aws):
    actions.deploy_realtime(
        aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1, scaling=scaling()
    )
    described = aws.sagemaker.describe_model(ModelName="bert-news-v1")
    assert described["PrimaryContainer"]["Image"] == IMAGE
    assert described["PrimaryContainer"]["Environment"] == {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    endpoint = aws.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"
    config = aws.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c5.large"
    target = aws.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (RESOURCE_ID, 1, 3)
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 3000.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (300, 60)


def test_async_endpoint_sends_answers_to_s3_with_a_per_instance_concurrency(aws):
    actions.deploy_async(
        aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1,
        s3_output_path="s3://bucket/async-out/", max_concurrent_invocations=16, s3_failure_path="s3://bucket/fail/",
    )  # fmt: skip
    config = aws.sagemaker.describe_endpoint_config(EndpointConfigName="bert-news-v1-config")
    assert config["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 16},
        "OutputConfig": {"S3OutputPath": "s3://bucket/async-out/", "S3FailurePath": "s3://bucket/fail/"},
    }
    assert aws.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_serverless_endpoint_has_its_memory_and_max_concurrency(aws):
    actions.deploy_serverless(aws, model(), endpoint=ENDPOINT, memory_mb=2048, max_concurrency=16)
    config = aws.sagemaker.describe_endpoint_config(EndpointConfigName="bert-news-v1-config")
    variant = config["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 16}
    assert "InstanceType" not in variant


def test_blue_green_update_shifts_a_canary_and_rolls_back_on_the_5xx_alarm(aws, updates):
    actions.deploy_realtime(aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1,
                            scaling=scaling())  # fmt: skip
    new = model("bert-news-v2", "s3://bucket/v2/model.tar.gz")
    config = actions.blue_green_update(
        aws, new, endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1, shift=TrafficShift(), **NO_WAIT
    )
    assert aws.sagemaker.describe_model(ModelName="bert-news-v2")["PrimaryContainer"]["ModelDataUrl"].endswith(
        "v2/model.tar.gz"
    )
    assert aws.sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"] == (
        "bert-news-v2"
    )
    alarm = aws.cloudwatch.describe_alarms(AlarmNames=[f"{ENDPOINT}-5xx"])["MetricAlarms"][0]
    assert_a_5xx_rate_alarm(alarm)
    stats = {query["Id"]: query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query}
    assert {"Name": "EndpointName", "Value": ENDPOINT} in stats["errors"]["Dimensions"]
    [update] = updates
    assert update["params"]["EndpointConfigName"] == config
    deployment = update["params"]["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 600,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert deployment["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": f"{ENDPOINT}-5xx"}]}
    assert len(update["targets_during_update"]) == 1, "same instance type: autoscaling stays registered"


def assert_a_5xx_rate_alarm(alarm: dict) -> None:
    """A client can cause a few 5xx at will (docs/deployment-security.md): the rollback alarm must need a share of
    the invocations, several minutes running, never one 5xx."""
    assert "MetricName" not in alarm
    stats = {query["Id"]: query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query}
    assert (stats["errors"]["MetricName"], stats["errors"]["Namespace"]) == ("Invocation5XXErrors", "AWS/SageMaker")
    assert stats["invocations"]["MetricName"] == "Invocations"
    [share] = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
    assert "100 * FILL(errors, 0) / invocations" in share["Expression"]
    assert "invocations >= 20" in share["Expression"]  # a quiet minute's single 5xx is no rate
    assert alarm["Threshold"] == 5
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3


def test_the_model_has_no_network_but_a_serverless_one_which_does_not_support_it(aws, monkeypatch):
    created = []
    monkeypatch.setattr(calls, "create_model", lambda spec: created.append(spec) or CREATE_MODEL(spec))
    actions.deploy_realtime(aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1,
                            scaling=None, **NO_WAIT)  # fmt: skip
    actions.deploy_serverless(aws, model("bert-news-sl"), endpoint="sl", memory_mb=2048, max_concurrency=4, **NO_WAIT)
    realtime, serverless = (CREATE_MODEL(spec) for spec in created)
    assert realtime["EnableNetworkIsolation"] is True  # botocore validated it against SageMaker's model (moto)
    assert "EnableNetworkIsolation" not in serverless


def test_linear_shift_moves_traffic_in_steps(aws, updates):
    actions.deploy_realtime(aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=2,
                            scaling=None)  # fmt: skip
    shift = TrafficShift("LINEAR", step_percent=25, wait_s=300)
    actions.blue_green_update(aws, model("bert-news-v2"), endpoint=ENDPOINT, instance_type="ml.c5.large",
                              instance_count=2, shift=shift, **NO_WAIT)  # fmt: skip
    routing = updates[0]["params"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 300,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }


def test_changing_the_instance_type_deregisters_autoscaling_during_the_update_and_restores_it(aws, updates):
    actions.deploy_realtime(aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1,
                            scaling=scaling())  # fmt: skip
    actions.blue_green_update(aws, model("bert-news-v2"), endpoint=ENDPOINT, instance_type="ml.c5.xlarge",
                              instance_count=1, shift=TrafficShift(), **NO_WAIT)  # fmt: skip
    assert updates[0]["targets_during_update"] == []  # Application Auto Scaling refuses the update otherwise
    target = aws.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 3000.0


def test_autoscale_command_registers_an_existing_endpoint_with_the_bench_target(aws, monkeypatch):
    actions.deploy_realtime(aws, model(), endpoint=ENDPOINT, instance_type="ml.c5.large", instance_count=1,
                            scaling=None)  # fmt: skip
    monkeypatch.setattr(actions, "boto3_clients", lambda region: aws)
    assert main(["--region", REGION, "autoscale", "--endpoint", ENDPOINT, "--safety-factor", "0.25"]) == 0
    policy = aws.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    expected = round(capacity().max_requests_per_s * 0.25 * 60, 1)
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == expected


MODEL_ARGS = ["--endpoint", ENDPOINT, "--model-name", "bert-news-v1", "--image", IMAGE,
              "--model-data", "s3://bucket/v1/model.tar.gz", "--role-arn", ROLE]  # fmt: skip


def dry_run(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, with no AWS configuration at all."""
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "tools.sagemaker_deploy", "--dry-run", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_dry_run_prints_each_call_without_credentials():
    result = dry_run("realtime", *MODEL_ARGS, "--safety-factor", "0.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["sagemaker", "CreateModel"],
        ["sagemaker", "CreateEndpointConfig"],
        ["sagemaker", "CreateEndpoint"],
        ["sagemaker", "wait"],
        ["application-autoscaling", "RegisterScalableTarget"],
        ["application-autoscaling", "PutScalingPolicy"],
    ]
    policy = json.loads(lines[-1].split(" ", 2)[2])
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == round(
        capacity().max_requests_per_s * 0.5 * 60, 1
    )


def test_dry_run_refuses_parameters_the_service_model_rejects():
    result = dry_run("serverless", *MODEL_ARGS, "--memory-mb", "512")
    assert result.returncode == 2
    assert "MemorySizeInMB" in result.stderr
    assert result.stdout.splitlines()[-1].startswith("sagemaker CreateModel")  # stopped before the bad call


def test_the_answered_update_endpoint_call_is_still_validated_by_botocore(aws, updates):
    """The stand-in answer comes after botocore's parameter validation: a malformed update never reaches it."""
    from botocore.exceptions import ParamValidationError

    routing_without_wait = {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}
    with pytest.raises(ParamValidationError, match="WaitIntervalInSeconds"):
        aws.sagemaker.update_endpoint(
            EndpointName=ENDPOINT,
            EndpointConfigName="x",
            DeploymentConfig={"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing_without_wait}},
        )
    assert "targets_during_update" not in updates[-1]
