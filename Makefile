# Pain News. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PN := $(VENV)/bin/pain-news
ISSUE ?= issues/2026-12-winter

.PHONY: venv demo test bench lint clean catalogues

venv: $(VENV)/.installed

# The test and dev extras both: `make test` and `make lint` run on a fresh machine (CI) with no other step.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $@

# A fresh secret for signing unsubscribe links, in the git-ignored .env (kept once made). Created 0600
# in one step (umask 077 for the redirect): the secret is never readable by others, not even briefly.
.env:
	umask 077 && $(PY) -c "import secrets; print('PAIN_NEWS_SECRET_KEY=' + secrets.token_urlsafe(32))" > .env

# The whole job on embedded defaults (SQLite, outbox provider). A throwaway database and outbox
# under build/ keep the demo repeatable and away from a real subscribers/pain-news.db and outbox/.
DEMO_DB := PAIN_NEWS_DATABASE_URL=sqlite:///build/demo.db PAIN_NEWS_DELIVERY_OUTBOX_DIR=build/demo-outbox

demo: venv .env
	$(PN) build $(ISSUE)
	@echo "Built files: build/$(notdir $(ISSUE))/ (email.html, email.txt, web.html, meta.json)"
	rm -rf build/demo-outbox build/demo.db build/demo.db-wal build/demo.db-shm build/demo.db.locks build/demo-report.html
	$(DEMO_DB) $(PN) subscribers import subscribers/sample.csv
	$(DEMO_DB) $(PN) approve $(ISSUE) --as clinic-reviewer --note "make demo"
	$(DEMO_DB) $(PN) approve --welcome --as clinic-reviewer --note "make demo"
	$(DEMO_DB) $(PN) send $(ISSUE) --provider outbox --yes
	@echo "One .eml per recipient in build/demo-outbox/campaign-1/ (open one in a mail client)."
	$(DEMO_DB) $(PN) report $(ISSUE) --html build/demo-report.html
	@echo "To write, check and send from the browser instead: $(PN) desk (docs/desk.md)."

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/run.py $(BENCH)

# Style never drifts: lint errors, formatting, and types (mypy strict on pain_news, checked tests).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Interface messages: extract what is marked (babel.cfg), merge into each pain_news/locale/<lang>/…/messages.po,
# compile the .mo committed beside it (docs/languages.md). Run after changing a marked message or a translation.
catalogues: venv
	$(PY) tools/catalogues.py

clean:
	rm -rf build outbox archive tests/artifacts .pytest_cache
