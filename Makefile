# The two commands: `make run` (demo portal on embedded defaults) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The portal's public address: links in e-mails and the award notices' QR codes use it.
PORTAL_BASE_URL ?= http://$(HOST):$(PORT)
export PORTAL_BASE_URL
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test system-run system-test messages migrate seed lint format bench serve security audit

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

system-run: ## install the system packages the portal needs (fonts and PDF libraries)
	bash scripts/install_system_packages.sh run

system-test: ## install the system packages the tests need (adds Chromium, poppler)
	bash scripts/install_system_packages.sh test

messages: $(STAMP) ## compile the translations (.po -> .mo)
	$(PY) manage.py compilemessages --ignore='.venv*' -v0

migrate: $(STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput -v0

seed: migrate ## seed the demo programme (idempotent)
	$(PY) manage.py seed_demo

run: system-run $(STAMP) messages seed ## set everything up and serve the demo on http://127.0.0.1:8000
	@echo
	@echo "  Portal: http://$(HOST):$(PORT)/   API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "  PORTAL_BASE_URL (links in e-mails, award notices' QR codes): $(PORTAL_BASE_URL)"
	@echo
	STATIC_COLLECTED=1 $(PY) manage.py collectstatic --noinput -v0
	STATIC_COLLECTED=1 $(PY) manage.py runserver $(HOST):$(PORT) --noreload

test: system-test $(STAMP) messages security ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

security: $(STAMP) ## bandit: no high-severity findings in the portal's code
	$(VENV)/bin/bandit -q -r portal consortia evaluations gpu_allocation awards -x '*/migrations/*' --severity-level high

audit: $(STAMP) ## pip-audit: no known vulnerabilities in the installed packages (needs the vulnerability service)
	$(PY) scripts/audit_dependencies.py

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: system-test $(STAMP) messages ## run the benchmarks (see bench/README.md)
	$(PY) bench/run.py
