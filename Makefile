# Every target wraps a plain command; docs/ shows the raw commands too.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON        ?= python3
VENV          ?= .venv
BIN           := $(VENV)/bin
MODEL_NAME    ?= bert_news_classification
MODEL_VERSION ?= 1.0
MODEL_DIR     ?= artifacts
MODEL_STORE   ?= model-store
TS_CONFIG     ?= config.properties
MODEL_CONFIG  ?= model-config.yaml
INFERENCE     ?= http://127.0.0.1:8080
MANAGEMENT    ?= http://127.0.0.1:8081
# Extra pip arguments for torch, e.g. a CPU-only or CUDA wheel index (docs/installing.md).
TORCH_PIP_ARGS ?=
MAR           := $(MODEL_STORE)/$(MODEL_NAME).mar
HANDLER_FILES := $(shell find handlers -name '*.py' 2>/dev/null)

# AUTH=on starts TorchServe with token authorization (docs/security.md); LOG_FORMAT=json writes JSON logs.
AUTH          ?= off
LOG_FORMAT    ?= text
SERVE_CONFIG  := $(if $(filter on,$(AUTH)),build/config.auth.properties,$(TS_CONFIG))
LOG_CONFIG    := $(if $(filter json,$(LOG_FORMAT)),log4j2-json.xml,log4j2.xml)
WORKERS       ?=
MANAGE        := $(BIN)/python -m tools.manage --management $(MANAGEMENT) --inference $(INFERENCE)
# Explanations (Settings.explanations, docs/explanations.md): own_pool runs them on their own workers, the
# same archive registered a second time under a name ending in _explain; shared runs them on the prediction
# workers; off answers them 403. Off unless turned on: the shipped model-config.yaml leaves them off.
EXPLANATIONS  ?= own_pool
EXPLAIN_MODEL := $(MODEL_NAME)_explain
EXPLAIN_WORKERS ?= 1

.PHONY: help run setup check-java model model-card archive serve stop predict explain test test-unit test-integration lint format \
	architectures-doc \
	clean models describe register unregister scale set-default wait-ready rollout

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

run: setup check-java $(MODEL_DIR)/model.safetensors $(MAR) serve predict ## set up, build the model if missing, archive, serve, classify real news

setup: $(VENV)/.installed ## create .venv with pinned dependencies (torch first: docs/installing.md)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0" $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -e ".[train,dev,bench,deploy,onnx,protocols,docs]"
	touch $@

check-java: ## TorchServe's frontend needs Java 17 or newer
	@command -v java >/dev/null || { echo "error: TorchServe needs Java 17+, and 'java' is not on PATH." \
	  "Install it, e.g. 'sudo apt-get install openjdk-17-jre-headless' (Debian/Ubuntu)." >&2; exit 1; }
	@java -version 2>&1 | awk -F'"' '/version/ { split($$2, v, "."); if (v[1] + 0 < 17) { \
	  print "error: TorchServe needs Java 17+, found " $$2 > "/dev/stderr"; exit 1 } }'

model: setup ## fine-tune the default BERT news classifier into artifacts/ (offline, ~minutes on 2 cores)
	$(BIN)/python -m training.train --output $(MODEL_DIR)

$(MODEL_DIR)/model.safetensors:
	$(MAKE) model

# ONNX=off packs torch only; GATE=accept|skip for a model without held-out data (docs/engines.md).
ONNX          ?= on
GATE          ?= measure
HELD_OUT      ?=

model-card: ## docs/reports/model-card.md: the trained model's card (make model) and the archive's accuracy gate (make archive)
	$(BIN)/python -c "import sys, zipfile; card = open(sys.argv[1]).read(); gate = zipfile.ZipFile(sys.argv[2]).read('ENGINES.md').decode(); \
	  open(sys.argv[3], 'w').write(card.rstrip() + '\n\n' + gate.replace('# Engines and the accuracy gate', '## Engines: the accuracy gate of \x60make archive\x60', 1))" \
	  $(MODEL_DIR)/MODEL_CARD.md $(MAR) docs/reports/model-card.md

archive: setup ## pack MODEL_DIR + handler (+ ONNX fp32/int8 and the accuracy gate) into model-store/MODEL_NAME.mar
	$(BIN)/python -m tools.archive --model-dir $(MODEL_DIR) --model-name $(MODEL_NAME) \
	  --version $(MODEL_VERSION) --config-file $(MODEL_CONFIG) --export-path $(MODEL_STORE) \
	  $(if $(filter off,$(ONNX)),--no-onnx) --gate $(GATE) $(if $(HELD_OUT),--held-out $(HELD_OUT))

$(MAR): $(MODEL_DIR)/model.safetensors $(MODEL_CONFIG) $(HANDLER_FILES)
	$(MAKE) archive

serve: setup check-java $(MAR) ## start TorchServe with the archive; returns when workers are READY
	@if [ "$(AUTH)" = on ]; then mkdir -p build && \
	  sed 's/^disable_token_authorization=.*/disable_token_authorization=false/' $(TS_CONFIG) > $(SERVE_CONFIG); fi
	@mkdir -p logs
	@# The server keeps its stdout open: send it to a file so `make serve | tee ...` does not wait on it.
	BERT_CLASSIFIER_EXPLANATIONS=$(EXPLANATIONS) $(BIN)/torchserve --start --ncs --model-store $(MODEL_STORE) --ts-config $(SERVE_CONFIG) --log-config $(LOG_CONFIG) \
	  --models $(MODEL_NAME)=$(MODEL_NAME).mar > logs/torchserve.out 2>&1 || { cat logs/torchserve.out; exit 1; }
	$(MANAGE) wait-ready $(MODEL_NAME) --timeout 300
	@if [ "$(EXPLANATIONS)" = own_pool ]; then \
	  $(MANAGE) register $(MODEL_NAME).mar --model-name $(EXPLAIN_MODEL) --workers $(EXPLAIN_WORKERS) --batch-size 1 && \
	  $(MANAGE) wait-ready $(EXPLAIN_MODEL) --timeout 300; fi

rollout: ## replace OLD_VERSION by VERSION from MAR_FILE without failing a request: make rollout MAR_FILE=v2.mar VERSION=2.0 OLD_VERSION=1.0
	$(MANAGE) rollout $(MODEL_NAME) $(MAR_FILE) --new-version $(VERSION) --old-version $(OLD_VERSION) \
	  $(if $(WORKERS),--workers $(WORKERS))

wait-ready: ## wait until MODEL_NAME's workers are READY and a warm-up prediction succeeds
	$(MANAGE) wait-ready $(MODEL_NAME) $(if $(VERSION),--version $(VERSION)) --timeout 300

models: ## list registered models
	$(MANAGE) list

describe: ## workers and settings of MODEL_NAME (VERSION=... for one version)
	$(MANAGE) describe $(MODEL_NAME) $(if $(VERSION),--version $(VERSION))

register: ## register model-store/MODEL_NAME.mar (MAR_FILE=x.mar, WORKERS, BATCH_SIZE, MAX_BATCH_DELAY)
	$(MANAGE) register $(or $(MAR_FILE),$(MODEL_NAME).mar) $(if $(WORKERS),--workers $(WORKERS)) \
	  $(if $(BATCH_SIZE),--batch-size $(BATCH_SIZE)) $(if $(MAX_BATCH_DELAY),--max-batch-delay $(MAX_BATCH_DELAY))

unregister: ## unregister MODEL_NAME (VERSION=... for one version)
	$(MANAGE) unregister $(MODEL_NAME) $(if $(VERSION),--version $(VERSION))

scale: ## set MODEL_NAME's workers: make scale WORKERS=2
	@test -n "$(WORKERS)" || { echo "usage: make scale WORKERS=N [VERSION=...]" >&2; exit 2; }
	$(MANAGE) scale $(MODEL_NAME) --workers $(WORKERS) $(if $(VERSION),--version $(VERSION))

set-default: ## route /predictions/MODEL_NAME to VERSION: make set-default VERSION=2.0
	$(MANAGE) set-default $(MODEL_NAME) $(VERSION)

stop: ## stop TorchServe
	$(BIN)/torchserve --stop

predict: ## classify held-out BBC articles through the running server
	$(BIN)/python -m tools.demo --url $(INFERENCE)/predictions/$(MODEL_NAME) --model-dir $(MODEL_DIR)

explain: ## explain TEXT with the running server, words shaded by attribution: make explain TEXT="..." [HTML=page.html]
	@test -n "$$TEXT" || { echo 'usage: make explain TEXT="..." [HTML=page.html] [TARGET=label]' >&2; exit 2; }
	$(BIN)/python -m tools.explain --url $(INFERENCE)/explanations/$(EXPLAIN_MODEL) $(if $(HTML),--html $(HTML)) \
	  $(if $(TARGET),--target $(TARGET)) -- "$$TEXT"

# The `model` tests serve the trained default model: `make test` builds it first when artifacts/ has none, so they
# never skip (pytest fails them without it).
test: setup check-java $(MODEL_DIR)/model.safetensors ## every test: unit, integration and the trained model (built first if missing)
	$(BIN)/python -m pytest

architectures-doc: setup check-java ## rewrite the table in docs/architectures.md from a run of the architecture matrix (~4 min)
	ARCHITECTURES_DOC=write $(BIN)/python -m pytest tests/integration/test_architectures.py

test-unit: setup ## unit tests only (seconds, no server)
	$(BIN)/python -m pytest -m unit

test-integration: setup check-java $(MODEL_DIR)/model.safetensors ## integration and model tests (real TorchServe on free ports)
	$(BIN)/python -m pytest -m "integration or model"

lint: setup ## ruff lint + format check, hadolint on the Dockerfiles, yamllint on deploy/, cfn-lint on the templates, the docs site
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if ls docker/*Dockerfile* >/dev/null 2>&1; then $(BIN)/hadolint docker/*Dockerfile*; fi
	$(BIN)/yamllint --strict deploy
	$(BIN)/cfn-lint deploy/sagemaker/*.yaml deploy/lambda/*.yaml
	$(BIN)/python -m tools.docs_reference --check
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site

# ---- documentation (mkdocs.yml; docs/) -----------------------------------------------------------------------
DOCS_PORT ?= 8000
# Material prints a notice about its successor on every build; the build output should show only our warnings.
export NO_MKDOCS_2_WARNING := 1
.PHONY: docs docs-serve docs-reference

docs: setup ## build the documentation site into build/site/ (--strict: a broken link or anchor fails)
	$(BIN)/mkdocs build --strict --site-dir build/site

docs-serve: setup ## serve the documentation on http://127.0.0.1:DOCS_PORT, rebuilt on every change
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-reference: setup ## regenerate docs/reference/ (settings, error types) from the code
	$(BIN)/python -m tools.docs_reference
# ---- end documentation -----------------------------------------------------------------------------------------

format: setup ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## remove built archives and logs (keeps the model and the venv)
	rm -rf $(MODEL_STORE)/*.mar logs build

# ---- SageMaker (docs/sagemaker.md) -------------------------------------------------------
SAGEMAKER_ARTIFACT ?= build/model.tar.gz
SAGEMAKER_OPT_ML   ?= .run/opt-ml
SAGEMAKER_PORT     ?= 8080

.PHONY: sagemaker-artifact sagemaker-serve-local

sagemaker-artifact: setup ## write build/model.tar.gz for S3 (model files + code/ for script mode)
	$(BIN)/python -m tools.sagemaker_artifact --model-dir $(MODEL_DIR) --output $(SAGEMAKER_ARTIFACT) \
	  --config-file $(MODEL_CONFIG)

sagemaker-serve-local: setup check-java ## run the image's `serve` on 127.0.0.1:8080 with MODEL_DIR as /opt/ml/model
	mkdir -p $(SAGEMAKER_OPT_ML) && ln -sfn $(abspath $(MODEL_DIR)) $(SAGEMAKER_OPT_ML)/model
	SM_OPT_ML=$(SAGEMAKER_OPT_ML) SM_BIND_HOST=127.0.0.1 SAGEMAKER_BIND_TO_PORT=$(SAGEMAKER_PORT) \
	  TOKENIZERS_PARALLELISM=false PYTHONPATH=$(CURDIR):$(CURDIR)/handlers $(BIN)/python -m sagemaker_serving.serve serve
# ---- end SageMaker ----------------------------------------------------------------------------------------

# ---- images with buildah, no Docker engine (docs/images.md) ------------------------
IMAGE_TAG        ?= bert-classifier:cpu
LAMBDA_IMAGE_TAG ?= bert-classifier-lambda:cpu
# More options for tools/image.py, e.g. IMAGE_ARGS=--fresh-base to rebuild a stand-in base.
IMAGE_ARGS       ?=
IMAGE_BUILD      := $(BIN)/python -m tools.image --torch-pip-args "$(TORCH_PIP_ARGS)" $(IMAGE_ARGS)

.PHONY: image image-test image-lambda image-lambda-test

image: setup ## build docker/Dockerfile (CPU) with buildah as root; a stand-in base if the official one cannot be pulled
	$(IMAGE_BUILD) --dockerfile docker/Dockerfile --tag $(IMAGE_TAG)

image-test: setup $(MODEL_DIR)/model.safetensors ## run the built image's entrypoint (buildah) and check it as SageMaker would
	$(BIN)/python -m tools.image_check sagemaker --tag $(IMAGE_TAG) --model-dir $(MODEL_DIR)

image-lambda: setup $(MODEL_DIR)/model.safetensors ## build docker/lambda.Dockerfile with buildah, MODEL_DIR baked in
	$(IMAGE_BUILD) --dockerfile docker/lambda.Dockerfile --tag $(LAMBDA_IMAGE_TAG) --build-arg MODEL_SOURCE=$(MODEL_DIR)

image-lambda-test: setup ## call the Lambda image's handler inside it with an API Gateway event (no runtime emulator here)
	$(BIN)/python -m tools.image_check lambda --tag $(LAMBDA_IMAGE_TAG)
# ---- end images -----------------------------------------------------------------------------------------------

# --- bench: in-process ceiling vs the real TorchServe (bench/; docs/reports/bench.md, bench.png, bench-results.json) ---
.PHONY: bench bench-quick
BENCH_OUT ?= docs/reports

bench: setup check-java $(MODEL_DIR)/model.safetensors ## benchmark TorchServe against the in-process ceiling into docs/reports/ (bench.md says how long it took)
	$(BIN)/python -m bench --out $(BENCH_OUT) --model-dir $(MODEL_DIR) --config $(MODEL_CONFIG)

bench-quick: setup check-java $(MODEL_DIR)/model.safetensors ## short smoke run of the benchmark into build/bench-quick
	$(BIN)/python -m bench --quick --out build/bench-quick --model-dir $(MODEL_DIR) --config $(MODEL_CONFIG)

# Explanations through the real TorchServe: cost per text, prediction latency next to them (docs/reports/explanations.md).
.PHONY: bench-explanations bench-explanations-quick
bench-explanations: setup check-java $(MAR) ## cost per explained text and prediction latency while explanations run, into docs/reports/ (the report says how long it took)
	$(BIN)/python -m bench.explanations --out $(BENCH_OUT) --mar $(MAR) --model-dir $(MODEL_DIR)

bench-explanations-quick: setup check-java $(MODEL_DIR)/model.safetensors ## short smoke run (torch-only archive) into build/explanations-quick
	$(BIN)/python -m bench.explanations --quick --out build/explanations-quick --model-dir $(MODEL_DIR)
# --- end bench --------------------------------------------------------------------------------------------------

# --- scaling out: KServe bundle and manifests, SageMaker deployment (docs/scaling-out.md) ------------------------
KSERVE_BUNDLE ?= build/kserve
KSERVE_VENV   := build/kserve-venv
# off: the bundle answers explanations 403; own_pool also registers <model>_explain; shared (docs/deployment-security.md).
KSERVE_EXPLANATIONS ?= off
.PHONY: kserve-bundle kserve-validate sagemaker-templates sagemaker-mme-artifact

kserve-bundle: setup $(MODEL_DIR)/model.safetensors ## write build/kserve (config/ + model-store/) and deploy/kserve/*.yaml
	$(BIN)/python -m tools.kserve_bundle --model-dir $(MODEL_DIR) --model-name $(MODEL_NAME) \
	  --version $(MODEL_VERSION) --config-file $(MODEL_CONFIG) --output $(KSERVE_BUNDLE) \
	  --explanations $(KSERVE_EXPLANATIONS)
	$(BIN)/python -m tools.kserve_manifests --output deploy/kserve

# The kserve SDK pins psutil<6 (we pin 7): it gets its own virtualenv, used only to validate the manifests.
$(KSERVE_VENV)/.installed: tools/kserve-validate-requirements.txt
	$(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install --quiet -r tools/kserve-validate-requirements.txt
	touch $@

kserve-validate: $(KSERVE_VENV)/.installed ## load deploy/kserve/*.yaml into the kserve SDK's model classes (own venv, ~2 min once)
	$(KSERVE_VENV)/bin/python tools/kserve_validate.py deploy/kserve/*.yaml

sagemaker-mme-artifact: setup ## one model's tarball for a multi-model endpoint: build/mme/MODEL_NAME.tar.gz (an unpacked .mar)
	$(BIN)/python -m tools.sagemaker_mme_artifact --model-dir $(MODEL_DIR) --model-name $(MODEL_NAME) \
	  --config-file $(MODEL_CONFIG) --output build/mme/$(MODEL_NAME).tar.gz

sagemaker-templates: setup ## regenerate deploy/sagemaker/*.yaml (CloudFormation) from docs/reports/bench.md
	$(BIN)/python -m tools.sagemaker_deploy.cloudformation --output deploy/sagemaker

.PHONY: lambda-template
lambda-template: setup ## regenerate deploy/lambda/api.yaml (Lambda behind an HTTP API: JWT authorizer, throttling, reserved concurrency)
	$(BIN)/python -m tools.lambda_api --output deploy/lambda
# --- end scaling out ----------------------------------------------------------------------------------------------

# --- reliability: hostile input, overload, faults, soak, log canary (reliability/, docs/reports/reliability.md) -------------
.PHONY: reliability reliability-quick
RELIABILITY_OUT ?= docs/reports
SOAK_SECONDS    ?= 600

reliability: setup check-java $(MODEL_DIR)/model.safetensors ## bad inputs next to good ones, 4x overload, worker kill, drain, soak, log canary; writes docs/reports/reliability.md (~30 min)
	$(BIN)/python -m reliability --out $(RELIABILITY_OUT) --model-dir $(MODEL_DIR) --soak-seconds $(SOAK_SECONDS)

reliability-quick: setup check-java $(MODEL_DIR)/model.safetensors ## the fast subset (short load phases, no variants) into build/reliability-quick
	$(BIN)/python -m reliability --quick --out build/reliability-quick --model-dir $(MODEL_DIR)
# --- end reliability ----------------------------------------------------------------------------------------------
