"""SageMaker adapters around the `bert_classifier` core.

- `sagemaker_serving.serve`: the entrypoint of our image (`docker run IMAGE serve`): TorchServe with our handler,
  built from `environment` (reads the environment), `model_store` (prepares /opt/ml/model), `torchserve_config`
  (config.properties) and `process` (runs TorchServe, forwards SIGTERM).
- `sagemaker_serving.inference`: `model_fn`/`input_fn`/`predict_fn`/`output_fn` for AWS's PyTorch containers.

Named `sagemaker_serving`, not `sagemaker`, so it never shadows the AWS SageMaker Python SDK.
"""
