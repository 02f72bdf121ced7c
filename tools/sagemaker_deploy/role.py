"""The least-privilege execution role of the CloudFormation templates: what SageMaker needs to run our image.

SageMaker assumes the role to pull the image, read the model data, write the endpoint's logs and metrics, and
(async) read the requests and write the answers; the container itself has no network (`EnableNetworkIsolation`).
Each grant is scoped to the stack's own parameters: the one model object, the image's one repository, the
endpoint's log group, the async input and output prefixes, the KMS key and VPC interfaces when given.

Whoever creates the stack needs `iam:PassRole` on this role for `sagemaker.amazonaws.com` (docs/deployment-security.md).
"""

from __future__ import annotations

PARTITION_ARN = "arn:${AWS::Partition}"
VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]


def s3_objects(uri_parameter: str, suffix: str = "") -> dict:
    """The S3 ARN of an `s3://bucket/key` parameter's value (plus `suffix`, e.g. `*` for a prefix)."""
    path = {"Fn::Select": [1, {"Fn::Split": ["s3://", {"Ref": uri_parameter}]}]}
    return {"Fn::Sub": [f"{PARTITION_ARN}:s3:::${{Path}}{suffix}", {"Path": path}]}


def ecr_repository(image_parameter: str) -> dict:
    """The ARN of the repository of an ECR image URI `<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest]`."""
    image = {"Ref": image_parameter}
    host = {"Fn::Split": [".", {"Fn::Select": [0, {"Fn::Split": ["/", image]}]}]}
    path = {"Fn::Select": [1, {"Fn::Split": [".amazonaws.com/", image]}]}
    repository = {"Fn::Select": [0, {"Fn::Split": [":", {"Fn::Select": [0, {"Fn::Split": ["@", path]}]}]}]}
    return {
        "Fn::Sub": [
            f"{PARTITION_ARN}:ecr:${{Region}}:${{Account}}:repository/${{Repository}}",
            {"Region": {"Fn::Select": [3, host]}, "Account": {"Fn::Select": [0, host]}, "Repository": repository},
        ]
    }


def _statement(actions: list[str], resource) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def _if(condition: str, statement: dict) -> dict:
    return {"Fn::If": [condition, statement, {"Ref": "AWS::NoValue"}]}


def execution_role(kind: str) -> dict:
    """The `AWS::IAM::Role` resource for an endpoint of `kind` (realtime, async, serverless), created only when
    the stack is given no role (condition `CreateRole`)."""
    log_group = {
        "Fn::Sub": [
            f"{PARTITION_ARN}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{Group}}:*",
            {"Group": {"Fn::Sub": "/aws/sagemaker/Endpoints/${EndpointName}"}},
        ]
    }
    statements = [
        _statement(["s3:GetObject"], s3_objects("ModelDataUrl")),
        _statement(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            ecr_repository("ImageUri"),
        ),
        _statement(["ecr:GetAuthorizationToken"], "*"),  # has no resource-level permissions
        _statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            log_group,
        ),
        _statement(["cloudwatch:PutMetricData"], "*"),  # has no resource-level permissions
    ]
    if kind == "async":
        statements.append(_statement(["s3:GetObject"], s3_objects("AsyncInputS3Uri", "*")))
        statements.append(_statement(["s3:PutObject"], s3_objects("S3OutputPath", "*")))
    if kind != "serverless":
        statements.append(_if("HasVpc", _statement(VPC_ACTIONS, "*")))  # ENI actions take no resource ARNs
    statements.append(
        _if(
            "HasKmsKey",
            _statement(
                ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], {"Ref": "KmsKeyArn"}
            ),
        )
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return {
        "Type": "AWS::IAM::Role",
        "Condition": "CreateRole",
        "Properties": {
            "Description": {"Fn::Sub": "SageMaker execution role of the ${EndpointName} endpoint (least privilege)"},
            "AssumeRolePolicyDocument": trust,
            "Policies": [
                {
                    "PolicyName": "serve-the-model",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }
