# GAS: `make run` starts the whole service on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO := reference/demo
DATA_DIR ?= $(or $(GAS_DATA_DIR),var)

.PHONY: install run test test-fast lint check-deploy clean demo-reference bench hail-env

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# The annotation engine is compiled to C with mypyc (2-2.5x faster); if that fails it runs as plain Python.
ENGINE_SOURCES := $(addprefix jobs/annotation/,sequence.py model.py terms.py coding.py splice.py hgvs.py consequence.py sv.py breakends.py flags.py pick.py custom.py vcf.py engine.py reference.py errors.py gene_models.py)
COMPILED := $(VENV)/.compiled

$(COMPILED): $(STAMP) $(ENGINE_SOURCES)
	rm -f jobs/annotation/*.so ./*__mypyc*.so
	mkdir -p build
	@# (mypyc copies unchanged per-module shims with their old times: touch them so the stale check sees this build)
	@if $(BIN)/mypyc $(ENGINE_SOURCES) > build/mypyc.log 2>&1; then touch jobs/annotation/*.so ./*__mypyc*.so; \
	  echo "compiled the annotation engine"; \
	else echo "WARNING: mypyc failed (build/mypyc.log): the engine runs as plain Python, about 4x slower:"; \
	  grep -E ': error:' build/mypyc.log | head -5; rm -f jobs/annotation/*.so ./*__mypyc*.so; fi
	touch $@

# `make install` leaves a usable engine: the packages, the compiled engine and the demo reference,
# so `manage.py annotate` works straight after it.
install: $(STAMP) $(COMPILED) demo-reference

# The demo reference (GRCh37 chr20) is built from the committed inputs in reference/demo, once per bundle format.
demo-reference: $(STAMP) $(COMPILED)
	@if $(BIN)/python -c 'import sys; from jobs.annotation.reference import Reference; Reference(sys.argv[1])' \
	  "$(DATA_DIR)/references/demo" 2>/dev/null; then echo "demo reference already installed"; else \
	  $(BIN)/python manage.py reference import demo --build GRCh37 \
	    --gtf $(DEMO)/GRCh37.chr20.gencode19.gtf.gz --fasta $(DEMO)/GRCh37.chr20.fa.gz \
	    --dbsnp $(DEMO)/dbsnp_common_GRCh37.chr20.vcf.gz; fi

run: install demo-reference
	$(BIN)/python manage.py migrate --noinput
	@# (the demo's annotation sources, ticked by default: dbSNP common; SYNTHETIC ClinVar- and gnomAD-format slices)
	$(BIN)/python manage.py source demo --reference demo
	$(BIN)/python manage.py source prepare
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

# The sign-in tests' OpenID provider (oidc-provider, from the npm registry; needs Node.js and npm).
OIDC_PROVIDER := tests/oidc_provider
$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --loglevel=error \
	  && touch $@; else echo "WARNING: npm not found: the sign-in tests need Node.js and npm (apt-get install nodejs npm)"; fi

# Hail (with its Spark) in a virtualenv of its own, for the test that runs hl.vep on the engine
# (tests/spark; Hail pins its own numpy, pandas and friends). Needs Java 17 (Debian: default-jre-headless).
HAIL_VENV := .venv-hail
$(HAIL_VENV)/.installed:
	$(PYTHON) -m venv $(HAIL_VENV)
	$(HAIL_VENV)/bin/pip install --quiet --upgrade pip
	$(HAIL_VENV)/bin/pip install --quiet hail==0.2.139
	touch $@

hail-env: $(HAIL_VENV)/.installed

# Runs the whole suite on SQLite; again on PostgreSQL when GAS_TEST_POSTGRES_URL is set (CI sets it).
test: install $(OIDC_PROVIDER)/node_modules/.installed $(HAIL_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m mypy gas_site accounts jobs archive
	$(BIN)/pytest
	@if [ -n "$$GAS_TEST_POSTGRES_URL" ]; then \
	  echo "== again on PostgreSQL =="; \
	  DATABASE_URL="$$GAS_TEST_POSTGRES_URL" $(BIN)/pytest; \
	fi

# The fast tests: everything but the end-to-end, browser and chaos tests (marked slow), on SQLite,
# spread over the machine's cores (pytest-xdist; each worker has its own test database).
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m mypy gas_site accounts jobs archive
	$(BIN)/pytest -m "not slow" -n auto

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m mypy gas_site accounts jobs archive

check-deploy: install
	GAS_ENV=production DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  DJANGO_ALLOWED_HOSTS=gas.example.org $(BIN)/python manage.py check --deploy --fail-level WARNING

bench: install
	$(BIN)/python benchmarks/annotate.py

clean:
	rm -rf $(VENV) $(HAIL_VENV) var build jobs/annotation/*.so ./*__mypyc*.so $(OIDC_PROVIDER)/node_modules
