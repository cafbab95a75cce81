# Two entry points for a fresh Linux machine: `make run` and `make test`.
# Each installs what it needs: Debian packages when root (else a clear message), then a venv.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := jackd2 libportaudio2 fluidsynth timgm6mb-soundfont espeak-ng
# The main job by default: a sound in, a voice out through the daemon, then what to try next.
# The librarian stays one ARGS= away: make run ARGS="voices --bundled brass"
ARGS ?= demo --out dexbridge-demo

.PHONY: run test system venv clean

run: venv
	$(VENV)/bin/dexbridge $(ARGS)

test: venv
	$(VENV)/bin/ruff check .
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir $${TMPDIR:-/tmp}/dexbridge-site
	$(PY) -m pytest $(PYTEST_ARGS)

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "== installing the Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	  else \
	    echo "dexbridge needs the Debian packages: $$missing"; \
	    echo "run as root:  sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml | system
	@echo "== setting up $(VENV): pip, the CPU build of PyTorch, then dexbridge (a first run downloads ~1 GB: minutes)"
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# The CPU build of torch first, so the project's range does not pull a CUDA build.
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[test,onnx,docs]"
	@echo "== $(VENV) is ready: the command is $(VENV)/bin/dexbridge"
	touch $@

venv: system $(VENV)/.installed

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
