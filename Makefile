# Two commands on a fresh machine:
#   make demo   set up .venv and decode a brain map with nothing downloaded
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-slow lint bench docs docs-check lock clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the CPU wheel 2.13.0 (an unpinned torch pulls a multi-GB CUDA build)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c requirements/lock.txt -e ".[all]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/brainlm-decode demo

# The test suite, then every docstring example of the package (offline, seconds).
test: install
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules brainlm_decode

# Everything, the real Gemma-3-270M conversion (about 3 minutes, 1 GB) included.
test-slow: install
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check brainlm_decode tests examples benchmarks
	$(VENV)/bin/ruff format --check brainlm_decode tests examples benchmarks

bench: install
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

docs: install
	$(VENV)/bin/sphinx-build -b html docs docs/_build/html

# What CI runs: offline, warnings are errors, the gallery is not executed again
# (tests/test_examples.py runs every example).
docs-check: install
	rm -rf docs/_build/check
	BRAINLM_DOCS_OFFLINE=1 $(VENV)/bin/sphinx-build -b html -W --keep-going -q \
		-D plot_gallery=0 docs docs/_build/check

# Re-resolve the pinned set (needs the package registry).
lock:
	rm -rf /tmp/brainlm-lock-venv && $(PYTHON) -m venv /tmp/brainlm-lock-venv
	/tmp/brainlm-lock-venv/bin/pip install --quiet torch==2.13.0
	/tmp/brainlm-lock-venv/bin/pip install --quiet -e ".[all]"
	{ echo "# One consistent, resolved set of versions (pip freeze of a fresh 'make install')."; \
	  echo "# Used as a constraints file by 'make install'; regenerate with 'make lock'."; \
	  /tmp/brainlm-lock-venv/bin/pip freeze --exclude-editable | sed -e 's/+cpu$$//'; } > requirements/lock.txt

clean:
	rm -rf $(VENV) build *.egg-info docs/_build
