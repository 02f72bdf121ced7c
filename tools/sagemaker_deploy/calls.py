"""Pure builders of the SageMaker, Application Auto Scaling and CloudWatch request bodies.

Each returns the keyword arguments of one API call, with the API's own field names. CloudFormation's resource
properties use the same names, so `cloudformation.py` builds its template from these functions too, passing
intrinsic functions (`{"Ref": ...}`) where the tool passes strings: nothing here formats or inspects a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VARIANT = "AllTraffic"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_METRIC = "SageMakerVariantInvocationsPerInstance"
SECONDS_PER_MINUTE = 60
# AWS's guidance for this metric: target = the measured maximum requests/s of one instance × a safety factor
# × 60 (the metric counts invocations per minute); 0.5 leaves room for bursts while a new instance starts.
DEFAULT_SAFETY_FACTOR = 0.5


@dataclass(frozen=True)
class ModelSpec:
    """The SageMaker model: our image serving model.tar.gz (`make sagemaker-artifact`)."""

    name: object
    image: object
    model_data_url: object
    role_arn: object
    environment: dict = field(default_factory=dict)
    network_isolation: object = True
    """No network inside the container: it needs none (SageMaker itself fetches the model and the async payloads).
    Serverless endpoints do not support it (AWS's serverless feature exclusions)."""
    vpc_config: object = None
    """`{"SecurityGroupIds": [...], "Subnets": [...]}`: the container's network interface in your VPC."""


@dataclass(frozen=True)
class Scaling:
    """Target tracking on invocations per instance."""

    target_invocations_per_instance: float
    min_instances: int = 1
    max_instances: int = 4
    scale_in_cooldown_s: int = 300  # scale in slowly: an instance takes minutes to come back
    scale_out_cooldown_s: int = 60


@dataclass(frozen=True)
class TrafficShift:
    """Blue/green traffic shifting: CANARY (one step of `step_percent`, then the rest) or LINEAR (steps)."""

    kind: str = "CANARY"
    step_percent: int = 10
    wait_s: int = 600
    termination_wait_s: int = 300
    max_execution_s: int = 3600

    def __post_init__(self) -> None:
        if self.kind not in ("CANARY", "LINEAR"):
            raise ValueError(f"traffic shift must be CANARY or LINEAR, not {self.kind!r}")
        if not 1 <= self.step_percent <= 99:
            raise ValueError("the traffic step must be between 1 and 99 percent")


def target_invocations_per_instance(max_requests_per_s: float, safety_factor: float = DEFAULT_SAFETY_FACTOR) -> float:
    """Invocations per instance per minute to track: measured max requests/s × safety factor × 60."""
    if not 0 < safety_factor <= 1:
        raise ValueError(f"the safety factor must be in (0, 1], not {safety_factor}")
    return round(max_requests_per_s * safety_factor * SECONDS_PER_MINUTE, 1)


def create_model(spec: ModelSpec) -> dict:
    container = {"Image": spec.image, "ModelDataUrl": spec.model_data_url}
    if spec.environment:
        container["Environment"] = dict(spec.environment)
    request = {"ModelName": spec.name, "ExecutionRoleArn": spec.role_arn, "PrimaryContainer": container}
    if spec.network_isolation is not False:
        request["EnableNetworkIsolation"] = spec.network_isolation
    if spec.vpc_config is not None:
        request["VpcConfig"] = spec.vpc_config
    return request


def instance_variant(model_name, instance_type, instance_count) -> dict:
    return {
        "VariantName": VARIANT,
        "ModelName": model_name,
        "InstanceType": instance_type,
        "InitialInstanceCount": instance_count,
        "InitialVariantWeight": 1,
    }


def serverless_variant(model_name, memory_mb, max_concurrency) -> dict:
    return {
        "VariantName": VARIANT,
        "ModelName": model_name,
        "ServerlessConfig": {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency},
    }


def endpoint_config(name, variant: dict, async_config: dict | None = None, kms_key_id=None) -> dict:
    """`kms_key_id` encrypts the instances' storage volume (not for serverless variants)."""
    request = {"EndpointConfigName": name, "ProductionVariants": [variant]}
    if async_config is not None:
        request["AsyncInferenceConfig"] = async_config
    if kms_key_id is not None:
        request["KmsKeyId"] = kms_key_id
    return request


def async_inference(s3_output_path, max_concurrent_invocations, s3_failure_path=None, kms_key_id=None) -> dict:
    """Async endpoints: answers go to S3 (encrypted with `kms_key_id` when given); each instance takes at most this
    many invocations at once."""
    output = {"S3OutputPath": s3_output_path}
    if s3_failure_path is not None:
        output["S3FailurePath"] = s3_failure_path
    if kms_key_id is not None:
        output["KmsKeyId"] = kms_key_id
    return {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": max_concurrent_invocations},
        "OutputConfig": output,
    }


def create_endpoint(name, config_name) -> dict:
    return {"EndpointName": name, "EndpointConfigName": config_name}


def variant_resource_id(endpoint_name: str, variant: str = VARIANT) -> str:
    """Application Auto Scaling's name for an endpoint variant."""
    return f"endpoint/{endpoint_name}/variant/{variant}"


def scalable_target(resource_id, scaling: Scaling) -> dict:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id,
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": scaling.min_instances,
        "MaxCapacity": scaling.max_instances,
    }


def scaling_policy(policy_name, resource_id, scaling: Scaling) -> dict:
    return {
        "PolicyName": policy_name,
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource_id,
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": scaling.target_invocations_per_instance,
            "PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_METRIC},
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    }


@dataclass(frozen=True)
class ErrorRate:
    """When a blue/green update rolls back: more than `max_percent` of the variant's invocations answered 5xx in
    each of `minutes` minutes running, counting only minutes of at least `min_invocations` invocations. A rate,
    not any 5xx: a client can still cause some 5xx (docs/deployment-security.md), which must not roll back."""

    max_percent: float = 5.0
    min_invocations: int = 20
    minutes: int = 3


def rollback_alarm(alarm_name, endpoint_name, variant=VARIANT, rate: ErrorRate = ErrorRate()) -> dict:
    """A metric-math alarm on the variant's 5xx share of invocations (`ErrorRate`); SageMaker rolls a blue/green
    update back while it is in ALARM."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}]

    def metric(metric_id: str, name: str) -> dict:
        stat = {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": dimensions}
        return {"Id": metric_id, "MetricStat": {"Metric": stat, "Period": SECONDS_PER_MINUTE, "Stat": "Sum"},
                "ReturnData": False}  # fmt: skip

    share = f"IF(invocations >= {rate.min_invocations}, 100 * FILL(errors, 0) / invocations, 0)"
    return {
        "AlarmName": alarm_name,
        "AlarmDescription": f"more than {rate.max_percent:g}% of invocations answered 5xx, {rate.minutes} minutes "
        f"running (minutes of at least {rate.min_invocations} invocations)",
        "Metrics": [
            metric("errors", "Invocation5XXErrors"),
            metric("invocations", "Invocations"),
            {"Id": "share", "Expression": share, "Label": "5xx percent of invocations", "ReturnData": True},
        ],
        "EvaluationPeriods": rate.minutes,
        "DatapointsToAlarm": rate.minutes,
        "Threshold": rate.max_percent,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }


def deployment_config(shift: TrafficShift, alarm_names: list) -> dict:
    """Blue/green: a new fleet, traffic moved in steps, the old fleet kept until the alarms stayed quiet."""
    size_key = "CanarySize" if shift.kind == "CANARY" else "LinearStepSize"
    routing = {
        "Type": shift.kind,
        "WaitIntervalInSeconds": shift.wait_s,
        size_key: {"Type": "CAPACITY_PERCENT", "Value": shift.step_percent},
    }
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": shift.termination_wait_s,
            "MaximumExecutionTimeoutInSeconds": shift.max_execution_s,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names]},
    }


def update_endpoint(endpoint_name, config_name, deployment: dict) -> dict:
    return {"EndpointName": endpoint_name, "EndpointConfigName": config_name, "DeploymentConfig": deployment}
