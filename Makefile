# Pain News. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PN := $(VENV)/bin/pain-news
ISSUE ?= issues/2026-12-winter

.PHONY: venv demo test bench lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# A fresh secret for signing unsubscribe links, in the git-ignored .env (kept once made).
.env:
	$(PY) -c "import secrets; print('PAIN_NEWS_SECRET_KEY=' + secrets.token_urlsafe(32))" > .env
	chmod 600 .env

demo: venv .env
	$(PN) build $(ISSUE)
	@echo "Built files: build/$(notdir $(ISSUE))/ (email.html, email.txt, web.html, meta.json)"

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/run.py $(BENCH)

lint: venv
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/ruff check pain_news
	$(VENV)/bin/mypy

clean:
	rm -rf build outbox archive tests/artifacts .pytest_cache
