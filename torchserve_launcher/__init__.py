"""Starting TorchServe and its archiver the one way this project does it: the console scripts next to the
interpreter (`commands`), config.properties (`properties`), the environment (`environment`) and the process
group (`processes`). `make serve`'s private instances for tests and the bench (`tools.server`), the SageMaker
entrypoint (`sagemaker_serving`) and the KServe bundle (`tools.kserve_bundle`) all go through it; the SageMaker
image ships this package, not `tools/`.
"""
