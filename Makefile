# The two commands of the README: `make demo` (the whole chain on embedded defaults) and `make test`.
.PHONY: demo test install lint validate build

VENV := .venv
COURSE := $(VENV)/bin/course

$(VENV)/.installed: pyproject.toml scripts/install.sh
	scripts/install.sh

install: $(VENV)/.installed

HUB ?=

# `make demo`: grade the sample students; `make demo HUB=1`: the course on a local JupyterHub (root; Ctrl-C stops)
demo: $(VENV)/.installed
ifeq ($(HUB),)
	$(COURSE) demo
else
	$(COURSE) hub --demo
endif

build: $(VENV)/.installed
	$(COURSE) build

lint: $(VENV)/.installed
	$(COURSE) lint

validate: $(VENV)/.installed
	$(COURSE) validate

test: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(COURSE) lint
	$(COURSE) validate
	$(VENV)/bin/python -m pytest
