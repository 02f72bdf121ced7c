"""SageMaker deployment as code: `python -m tools.sagemaker_deploy --help` (docs/scaling-out.md).

- `calls`: pure builders of each API call's parameters (also the CloudFormation template's properties).
- `actions`: the call sequences (real-time, async, serverless endpoints, autoscaling, blue/green update), run
  against boto3 clients or, with `--dry-run`, against `dry_run` clients that validate and print each call.
- `cloudformation`: the same resources as a CloudFormation template (deploy/sagemaker/).
- `__main__`: the command line.
"""
