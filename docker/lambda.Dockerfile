# AWS Lambda container image: serverless/lambda_function.py behind API Gateway, the model baked in.
# Build from the repository root (not built here: this repository's machines have no Docker engine):
#
#   docker build -f docker/lambda.Dockerfile -t bert-classifier-lambda .
#   docker build -f docker/lambda.Dockerfile --build-arg MODEL_DIR=path/to/model -t bert-classifier-lambda .
#
# Python 3.12 on Amazon Linux 2023: torch 2.13 wheels need glibc 2.28, which the 3.11 image (Amazon Linux 2,
# glibc 2.26) lacks. A tag pin; for production also pin the digest (public.ecr.aws/lambda/python:3.12@sha256:...).
FROM public.ecr.aws/lambda/python:3.12

ARG MODEL_DIR=artifacts

# DL3064 flags TOKENIZERS_PARALLELISM for the word TOKEN; it is a switch, not a secret.
# hadolint ignore=DL3064
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/tmp/huggingface \
    MPLCONFIGDIR=/tmp/matplotlib \
    MODEL_DIR=/var/task/model

# The core's pins from pyproject.toml (CPU torch from PyTorch's index); TorchServe and its helpers are not needed.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; print("\n".join(d for d in tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"] if d.split("==")[0] in ("torch", "transformers", "tokenizers", "safetensors", "PyYAML", "captum", "matplotlib")))' \
        > /tmp/requirements.txt \
    && grep '^torch==' /tmp/requirements.txt > /tmp/torch.txt \
    && pip install --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/pyproject.toml /tmp/requirements.txt /tmp/torch.txt

COPY handlers/bert_classifier/ ${LAMBDA_TASK_ROOT}/bert_classifier/
COPY serverless/ ${LAMBDA_TASK_ROOT}/serverless/
COPY ${MODEL_DIR}/ ${LAMBDA_TASK_ROOT}/model/

CMD ["serverless.lambda_function.lambda_handler"]
