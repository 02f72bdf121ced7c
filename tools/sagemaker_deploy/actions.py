"""The call sequences that deploy, autoscale and update SageMaker endpoints, given API clients.

Every function takes a `Clients` (boto3 clients, or `dry_run.clients()`), and plain values; the request bodies
come from `calls`. Nothing here reads the command line or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tools.sagemaker_deploy import calls
from tools.sagemaker_deploy.calls import ModelSpec, Scaling, TrafficShift

WAIT = {"Delay": 30, "MaxAttempts": 120}  # endpoint creation and blue/green updates take minutes


@dataclass(frozen=True)
class Clients:
    sagemaker: object
    autoscaling: object
    cloudwatch: object


def boto3_clients(region: str | None = None) -> Clients:
    import boto3

    session = boto3.session.Session(region_name=region)
    return Clients(
        sagemaker=session.client("sagemaker"),
        autoscaling=session.client("application-autoscaling"),
        cloudwatch=session.client("cloudwatch"),
    )


def deploy_realtime(
    clients: Clients,
    model: ModelSpec,
    *,
    endpoint: str,
    instance_type: str,
    instance_count: int,
    scaling: Scaling | None,
    wait: bool = True,
) -> None:
    """Model, endpoint config and endpoint; then target-tracking autoscaling once the endpoint is in service."""
    variant = calls.instance_variant(model.name, instance_type, instance_count)
    _create(clients, model, endpoint, calls.endpoint_config(_config_name(model), variant))
    _finish(clients, endpoint, scaling, wait)


def deploy_async(
    clients: Clients,
    model: ModelSpec,
    *,
    endpoint: str,
    instance_type: str,
    instance_count: int,
    s3_output_path: str,
    max_concurrent_invocations: int,
    s3_failure_path: str | None = None,
    scaling: Scaling | None = None,
    wait: bool = True,
) -> None:
    """An asynchronous endpoint: requests queue in SageMaker, answers land in `s3_output_path`."""
    variant = calls.instance_variant(model.name, instance_type, instance_count)
    inference = calls.async_inference(s3_output_path, max_concurrent_invocations, s3_failure_path)
    _create(clients, model, endpoint, calls.endpoint_config(_config_name(model), variant, inference))
    _finish(clients, endpoint, scaling, wait)


def deploy_serverless(
    clients: Clients, model: ModelSpec, *, endpoint: str, memory_mb: int, max_concurrency: int, wait: bool = True
) -> None:
    """A serverless endpoint: SageMaker scales it itself, up to `max_concurrency` invocations at once. Serverless
    endpoints support neither network isolation nor a VPC, so the model has neither."""
    model = replace(model, network_isolation=False, vpc_config=None)
    variant = calls.serverless_variant(model.name, memory_mb, max_concurrency)
    _create(clients, model, endpoint, calls.endpoint_config(_config_name(model), variant))
    _finish(clients, endpoint, None, wait)


def enable_autoscaling(clients: Clients, endpoint: str, scaling: Scaling) -> None:
    """Register the endpoint's variant with Application Auto Scaling and track invocations per instance."""
    resource_id = calls.variant_resource_id(endpoint)
    clients.autoscaling.register_scalable_target(**calls.scalable_target(resource_id, scaling))
    clients.autoscaling.put_scaling_policy(**calls.scaling_policy(_policy_name(endpoint), resource_id, scaling))


def blue_green_update(
    clients: Clients,
    model: ModelSpec,
    *,
    endpoint: str,
    instance_type: str,
    instance_count: int,
    shift: TrafficShift,
    wait: bool = True,
) -> str:
    """Move `endpoint` to a new model blue/green, rolled back automatically while its 5xx alarm fires.

    Application Auto Scaling refuses an update that changes a scaled variant's instance type, so then the
    variant is deregistered first and registered again, with the same limits and policies, afterwards.
    Returns the new endpoint config's name.
    """
    resource_id = calls.variant_resource_id(endpoint)
    saved = _autoscaling_to_restore(clients, endpoint, instance_type)
    if saved:
        for policy in saved["policies"]:
            clients.autoscaling.delete_scaling_policy(**_policy_key(policy))
        clients.autoscaling.deregister_scalable_target(**_target_key(resource_id))
    config_name = _config_name(model)
    clients.sagemaker.create_model(**calls.create_model(model))
    variant = calls.instance_variant(model.name, instance_type, instance_count)
    clients.sagemaker.create_endpoint_config(**calls.endpoint_config(config_name, variant))
    alarm = calls.rollback_alarm(f"{endpoint}-5xx", endpoint)
    clients.cloudwatch.put_metric_alarm(**alarm)
    deployment = calls.deployment_config(shift, [alarm["AlarmName"]])
    clients.sagemaker.update_endpoint(**calls.update_endpoint(endpoint, config_name, deployment))
    if wait or saved:
        clients.sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=WAIT)
    if saved:
        target = saved["target"]
        clients.autoscaling.register_scalable_target(
            **_target_key(resource_id), MinCapacity=target["MinCapacity"], MaxCapacity=target["MaxCapacity"]
        )
        for policy in saved["policies"]:
            clients.autoscaling.put_scaling_policy(
                **_policy_key(policy),
                PolicyType=policy["PolicyType"],
                TargetTrackingScalingPolicyConfiguration=policy["TargetTrackingScalingPolicyConfiguration"],
            )
    return config_name


def _create(clients: Clients, model: ModelSpec, endpoint: str, config: dict) -> None:
    clients.sagemaker.create_model(**calls.create_model(model))
    clients.sagemaker.create_endpoint_config(**config)
    clients.sagemaker.create_endpoint(**calls.create_endpoint(endpoint, config["EndpointConfigName"]))


def _finish(clients: Clients, endpoint: str, scaling: Scaling | None, wait: bool) -> None:
    """Autoscaling needs an endpoint in service, so it waits when there is scaling to register."""
    if wait or scaling:
        clients.sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=WAIT)
    if scaling:
        enable_autoscaling(clients, endpoint, scaling)


def _autoscaling_to_restore(clients: Clients, endpoint: str, instance_type: str) -> dict | None:
    """The variant's scalable target and policies, when it has them and the update changes its instance type."""
    resource_id = calls.variant_resource_id(endpoint)
    targets = clients.autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource_id], ScalableDimension=calls.SCALABLE_DIMENSION
    )["ScalableTargets"]
    if not targets:
        return None
    current = clients.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = clients.sagemaker.describe_endpoint_config(EndpointConfigName=current)["ProductionVariants"]
    if all(variant.get("InstanceType") == instance_type for variant in variants):
        return None
    policies = clients.autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=resource_id, ScalableDimension=calls.SCALABLE_DIMENSION
    )["ScalingPolicies"]
    return {"target": targets[0], "policies": policies}


def _target_key(resource_id: str) -> dict:
    return {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": calls.SCALABLE_DIMENSION}


def _policy_key(policy: dict) -> dict:
    return {"PolicyName": policy["PolicyName"], **_target_key(policy["ResourceId"])}


def _config_name(model: ModelSpec) -> str:
    """One endpoint config per model: a blue/green update needs a config the endpoint does not use yet."""
    return f"{model.name}-config"


def _policy_name(endpoint: str) -> str:
    return f"{endpoint}-invocations-per-instance"
