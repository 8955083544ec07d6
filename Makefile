# GAS: `make run` starts the whole service on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint check-deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

# Runs the whole suite on SQLite; again on PostgreSQL when GAS_TEST_POSTGRES_URL is set (CI sets it).
test: install
	$(BIN)/ruff check .
	$(BIN)/pytest
	@if [ -n "$$GAS_TEST_POSTGRES_URL" ]; then \
	  echo "== again on PostgreSQL =="; \
	  DATABASE_URL="$$GAS_TEST_POSTGRES_URL" $(BIN)/pytest; \
	fi

lint: install
	$(BIN)/ruff check .

check-deploy: install
	GAS_ENV=production DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  DJANGO_ALLOWED_HOSTS=gas.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
