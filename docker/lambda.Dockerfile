# AWS Lambda container image: serverless/lambda_function.py behind API Gateway, the model baked in.
# Build from the repository root:
#
#   docker build -f docker/lambda.Dockerfile -t bert-classifier-lambda .
#   docker build -f docker/lambda.Dockerfile --build-arg MODEL_SOURCE=path/to/model -t bert-classifier-lambda .
#   make image-lambda  # with buildah and no Docker engine (tools/image.py); imports the handler inside it
#
# Python 3.12 on Amazon Linux 2023: torch 2.13 wheels need glibc 2.28, which the 3.11 image (Amazon Linux 2,
# glibc 2.26) lacks. A tag pin; for production also pin the digest (public.ecr.aws/lambda/python:3.12@sha256:...).
FROM public.ecr.aws/lambda/python:3.12

# The model folder to bake in, inside the build context. Not named MODEL_DIR: the ENV below sets that name for
# the handler, and an ENV overrides an ARG of the same name, so COPY would look for /var/task/model in the context.
ARG MODEL_SOURCE=artifacts
# Where pip gets torch, replacing PyTorch's CPU index (see docker/Dockerfile).
ARG TORCH_PIP_ARGS=

# MPLCONFIGDIR: matplotlib, which Captum imports for explanations, needs a writable folder (no home here).
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

# The serving core's pins: pyproject.toml's [tool.bert-torchserve] core-packages, the one list script mode's
# requirements.txt comes from too (CPU torch from PyTorch's index); TorchServe and its helpers are not needed.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; p = tomllib.load(open("/tmp/pyproject.toml", "rb")); core = {n.lower() for n in p["tool"]["bert-torchserve"]["core-packages"]}; print("\n".join(d for d in p["project"]["dependencies"] if d.split("==")[0].lower() in core))' \
        > /tmp/requirements.txt \
    && grep '^torch==' /tmp/requirements.txt > /tmp/torch.txt \
    && pip install ${TORCH_PIP_ARGS:---index-url https://download.pytorch.org/whl/cpu} -r /tmp/torch.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/pyproject.toml /tmp/requirements.txt /tmp/torch.txt

COPY handlers/bert_classifier/ ${LAMBDA_TASK_ROOT}/bert_classifier/
COPY serverless/ ${LAMBDA_TASK_ROOT}/serverless/
# The handler settings serverless/lambda_function.py reads from next to its package ($MODEL_CONFIG overrides).
COPY model-config.yaml ${LAMBDA_TASK_ROOT}/
# Readable by the non-root user Lambda runs the function as: save_pretrained writes model.safetensors as 0600.
# 755, not 644: recent BuildKit gives --chmod's mode to the directories it creates too, and they need the x bit.
COPY --chmod=755 ${MODEL_SOURCE}/ ${LAMBDA_TASK_ROOT}/model/

CMD ["serverless.lambda_function.lambda_handler"]
