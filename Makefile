# framecast — every entry point a user or CI needs. `make demo` and `make test` work on a fresh Debian 12.
PYTHON ?= python3
PYTEST_WORKERS ?= 2
STACK ?= framecast

.PHONY: install demo test test-unit lint bench bench-image bench-peer profile image test-image test-shard up down deploy probe clean

install:  ## runtime (Chrome, ffmpeg, page runtime) + the Python package with test tools
	bash scripts/install-runtime.sh
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'

demo: install  ## render examples/hello to out/hello.mp4
	mkdir -p out
	framecast render examples/hello -o out/hello.mp4

test: install  ## the whole suite (unit + functional; Docker tests skip without an engine)
	$(PYTHON) scripts/probe_beginframe.py
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests

test-unit:
	$(PYTHON) -m pytest tests/unit

lint:
	$(PYTHON) -m ruff check app tests scripts
	$(PYTHON) -m ruff format --check app tests scripts
	$(PYTHON) -m mypy
	cfn-lint infra/template.yaml

bench: install  ## benchmarks print numbers and write BENCHMARKS.md (local renders, warm workers, Lambda model, timeline-free pages)
	$(PYTHON) scripts/bench.py
	$(PYTHON) scripts/bench_warm_lambda.py
	$(PYTHON) scripts/bench_lambda_model.py
	$(PYTHON) scripts/bench_timeline_free.py

bench-peer: install  ## framecast vs the HyperFrames CLI, same compositions, same run (BENCHMARKS.md)
	$(PYTHON) scripts/bench_peer.py

profile: install  ## where one 1080p render's time and CPU go, per frame and per process (BENCHMARKS.md)
	$(PYTHON) scripts/profile_render.py

bench-image: install  ## the Lambda image: cold and cached build, sizes, cold and warm starts (BENCHMARKS.md)
	$(PYTHON) scripts/bench_image.py --cold

probe:
	$(PYTHON) scripts/probe_beginframe.py

image:  ## the production Lambda image, with docker or podman (podman is set up here when no engine answers)
	bash scripts/image.sh build

test-image:  ## build the image, gate it, run it read-only under awslambdaric: plan → chunks → assemble
	bash scripts/image.sh test

test-shard:  ## build Dockerfile.test and run test shard N of 4 in it: make test-shard N=1
	bash scripts/image.sh shard $(N)

up: image  ## offline stack: LocalStack + RIE workers render examples/hello into ./out
	docker compose up --build --abort-on-container-exit --exit-code-from render

down:
	docker compose down -v

deploy:  ## framecast lambda deploy: build, push, deploy infra/template.yaml (docker or podman, AWS credentials)
	bash scripts/deploy.sh --stack $(STACK)

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
