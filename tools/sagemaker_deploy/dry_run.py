"""`--dry-run`: clients that print each API call instead of making it, after botocore validated its parameters
against the real service model (shipped with botocore: no network, no credentials, no region).

They answer with just enough for the call sequences to go on: an endpoint is in service, its config has the
new instance type, and no variant is registered with Application Auto Scaling yet.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import botocore.session
from botocore import xform_name
from botocore.validate import validate_parameters

from tools.sagemaker_deploy.actions import Clients

ANSWERS = {
    "DescribeEndpoint": {"EndpointStatus": "InService", "EndpointConfigName": "(current)"},
    "DescribeEndpointConfig": {"ProductionVariants": []},
    "DescribeScalableTargets": {"ScalableTargets": []},
    "DescribeScalingPolicies": {"ScalingPolicies": []},
}


class DryRunClient:
    """Stands for a boto3 client of `service`: each method validates, prints and records its call."""

    def __init__(self, service: str, write: Callable[[str], None]) -> None:
        self.service = service
        self.model = botocore.session.get_session().get_service_model(service)
        self.operations = {xform_name(name): name for name in self.model.operation_names}
        self.write = write
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, method: str):
        if method not in self.operations:
            raise AttributeError(f"{self.service} has no operation {method}")
        operation = self.operations[method]

        def call(**params):
            validate_parameters(params, self.model.operation_model(operation).input_shape)
            self.calls.append((operation, params))
            self.write(f"{self.service} {operation} {json.dumps(params, sort_keys=True, default=str)}")
            return ANSWERS.get(operation, {})

        return call

    def get_waiter(self, name: str):
        client = self

        class Waiter:
            def wait(self, **params):
                params.pop("WaiterConfig", None)
                client.write(f"{client.service} wait {name} {json.dumps(params, sort_keys=True)}")

        return Waiter()


def clients(write: Callable[[str], None] = lambda line: print(line, file=sys.stdout)) -> Clients:
    return Clients(
        sagemaker=DryRunClient("sagemaker", write),
        autoscaling=DryRunClient("application-autoscaling", write),
        cloudwatch=DryRunClient("cloudwatch", write),
    )
