# `make run` — set up everything and serve the demo province; `make test` — the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi
# The address printed for phones follows the port unless set explicitly.
export PUBLIC_URL ?= http://127.0.0.1:$(PORT)
ENGINE := tests/e2e/engine

.PHONY: run test install engine browser lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The real ODK form engine for the end-to-end tests (npm, pinned by package-lock.json).
$(ENGINE)/node_modules/.installed: $(ENGINE)/package-lock.json
	npm ci --prefix $(ENGINE) --no-audit --no-fund --loglevel=error
	touch $@

engine: $(if $(wildcard $(ENGINE)/package-lock.json),$(ENGINE)/node_modules/.installed)

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo setup
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 3 --threads 4 --no-control-socket --access-logfile - wsgi:app

# Headless Chromium for tests/browser (Debian packages; Selenium uses /usr/bin/chromedriver, nothing is downloaded).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
		{ apt-get update && apt-get install -y chromium chromium-driver; }

test: install engine browser
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check server forms sync tests bench wsgi.py

clean:
	rm -rf $(VENV) $(ENGINE)/node_modules
