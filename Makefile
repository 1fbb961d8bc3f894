# framecast — every entry point a user or CI needs. `make demo` and `make test` work on a fresh Debian 12.
PYTHON ?= python3
PYTEST_WORKERS ?= 2
STACK ?= framecast

.PHONY: install demo test test-unit lint bench image up down deploy probe clean

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

bench: install  ## benchmarks print numbers and write BENCHMARKS.md
	$(PYTHON) scripts/bench.py

probe:
	$(PYTHON) scripts/probe_beginframe.py

image:  ## the production Lambda image (needs a Docker engine)
	docker build -t framecast:local .

up: image  ## offline stack: LocalStack + RIE workers render examples/hello into ./out
	docker compose up --build --abort-on-container-exit --exit-code-from render

down:
	docker compose down -v

deploy:  ## build, push, deploy infra/template.yaml (needs Docker and AWS credentials)
	bash scripts/deploy.sh --stack $(STACK)

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
