# csv-ingest: CSV -> RabbitMQ -> PostgreSQL with exactly-once effect.
# `make` (or `make help`) lists the targets. Settings come from env/*.env; a variable set in
# the environment (`AMQP_URL=... make start`) or on the command line (`make start CONSUMERS=4`)
# wins over the files.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# --- configuration -------------------------------------------------------------------------
# Each KEY=value line of the env files becomes `KEY ?= value`, so the environment and the
# command line win. `$` and `#` in values are escaped so make keeps them literally.
ENV_FILES := $(wildcard env/common.env env/producer.env env/consumer.env)
_SPACE := $(subst ,, )
_ENV_LINES := $(shell sed -n \
	-e 's/\r$$//' -e 's/\$$/$$$$/g' -e 's/\#/\\\#/g' -e 's/ /~SP~/g' \
	-e 's/^\(export~SP~\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)=\(.*\)$$/\2?=\3/p' $(ENV_FILES))
$(foreach line,$(_ENV_LINES),$(eval $(subst ~SP~,$(_SPACE),$(line))))
ENV_VARS := $(foreach line,$(_ENV_LINES),$(firstword $(subst ?=, ,$(line))))

# Defaults for what the env files may leave out.
AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/ingest
REDIS_URL ?= redis://127.0.0.1:6379/0
INGEST_FILE ?= data/customers_sample.csv
CONSUMERS ?= 2
CONSUMER_SHUTDOWN_TIMEOUT ?= 30
START_TIMEOUT ?= 30
# `make demo` loads data/<name>_sample.* of each of these bundled datasets (datasets/<name>.yaml).
DEMO_DATASETS ?= customers user_purchase suppliers
# `make data`: empty ROWS, SEED, SHAPE or FIRST_KEY take scripts/gendata.py's defaults (the
# bench's too: the same arguments name and make the same file).
ROWS ?=
SEED ?=
SHAPE ?=
FIRST_KEY ?=
DIRTY ?= 0
PYTEST_ARGS ?=
BENCH_ARGS ?=
SAMPLE_CSV ?= data/customers_sample.csv
SAMPLE_DATASET ?= customers
PYTHON ?= python3.11
# `make watch`: the folder watched and the watcher's options (producer watch --help).
WATCH_DIR ?= volumes/inbox
WATCH_ARGS ?= --done-dir $(WATCH_DIR)/done --failed-dir $(WATCH_DIR)/failed

export $(sort $(ENV_VARS) AMQP_URL DATABASE_URL REDIS_URL INGEST_FILE CONSUMERS \
	CONSUMER_SHUTDOWN_TIMEOUT)

# dbmate talks to PostgreSQL without TLS unless the URL says otherwise.
DBMATE_URL = $(DATABASE_URL)$(if $(findstring sslmode=,$(DATABASE_URL)),,$(if \
	$(findstring ?,$(DATABASE_URL)),&,?)sslmode=disable)
DBMATE_BASE = .venv/bin/dbmate --url "$(DBMATE_URL)" --no-dump-schema
DBMATE = $(DBMATE_BASE) --migrations-dir migrations
# The bundled example tables (customers, user_purchase, suppliers) have their own migrations
# and their own dbmate table, so a user's database gets them only when asked.
DBMATE_EXAMPLES = $(DBMATE_BASE) --migrations-dir migrations-examples \
	--migrations-table examples_schema_migrations

VENV_STAMP := .venv/.installed
LOG_DIR ?= volumes/logs
RUN_DIR ?= volumes/run
# Variables `make test` keeps from the env files: where the services are. The tuning knobs
# (batch size, INGEST_FILE, ...) are left out so tests see the code's defaults.
TEST_KEEPS := AMQP_URL DATABASE_URL REDIS_URL
TEST_UNSET = $(foreach v,$(filter-out $(TEST_KEEPS),$(ENV_VARS)),$(if \
	$(filter file,$(origin $(v))),-u $(v)))

.PHONY: help install install-browser install-bench-tools infra migrate-db migrate-examples \
	drop-db consumers start logs stop status test check data samples demo bench clean-data api \
	watch

help: ## List the targets
	@echo "Usage: make TARGET [VAR=value ...]   (settings: env/*.env, overridable)"
	awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  %-19s %s\n", $$1, $$2}' \
		$(firstword $(MAKEFILE_LIST))

install: $(VENV_STAMP) ## Create .venv with the project and its test and dev extras

$(VENV_STAMP): pyproject.toml
	@test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/python -m pip install --quiet --upgrade pip
	.venv/bin/python -m pip install --quiet -e '.[test,dev]'
	touch $@

install-browser: ## Install Debian's chromium and chromium-driver (the web page's test; root or sudo)
	@bash scripts/install_browser.sh

install-bench-tools: ## Install Debian's pgloader, the bench's third loader (root or sudo)
	@bash scripts/install_bench_tools.sh

infra: ## Bring up RabbitMQ, PostgreSQL and Redis (Docker if present, else local services)
	@bash scripts/infra.sh

migrate-db: install ## Create the database if missing and apply migrations/ (idempotent)
	@$(DBMATE) --wait --wait-timeout 30s --migration-lock up
	echo "migrate-db: $$(sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#' <<<"$$DATABASE_URL") is up to date"

migrate-examples: install ## Create the bundled datasets' example tables (migrations-examples/)
	@$(DBMATE_EXAMPLES) --wait --wait-timeout 30s --migration-lock up
	echo "migrate-examples: $$(sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#' <<<"$$DATABASE_URL") has the example tables"

drop-db: install ## Drop the database named in DATABASE_URL
	@$(DBMATE) drop

consumers: install ## Start CONSUMERS consumers in the background, wait until they consume; publish nothing
	@mkdir -p $(LOG_DIR) $(RUN_DIR)
	shopt -s nullglob
	started=()
	for i in $$(seq 1 $(CONSUMERS)); do
	  name=consumer-$$i; pidfile=$(RUN_DIR)/$$name.pid
	  if [[ -f $$pidfile ]] && kill -0 "$$(cat $$pidfile)" 2>/dev/null; then
	    echo "$$name: already running (pid $$(cat $$pidfile))"; continue
	  fi
	  rm -f $(RUN_DIR)/$$name.ready
	  # consumer-i serves its metrics on CONSUMER_METRICS_PORT_BASE + i - 1 (empty or 0: off)
	  port=0; base=$${CONSUMER_METRICS_PORT_BASE:-0}
	  if (( base > 0 )); then port=$$(( base + i - 1 )); fi
	  CONSUMER_METRICS_PORT=$$port CONSUMER_READY_FILE=$(RUN_DIR)/$$name.ready nohup .venv/bin/consumer \
	    > $(LOG_DIR)/$$name.log 2>&1 &
	  echo $$! > $$pidfile; started+=("$$name"); disown
	  echo "$$name: started (pid $$!, log $(LOG_DIR)/$$name.log$$( (( port )) && echo ", metrics port $$port"))"
	done
	# Wait (at most START_TIMEOUT s) until each new consumer says it is consuming.
	deadline=$$(( SECONDS + $(START_TIMEOUT) ))
	alive() { [[ $$(ps -o stat= -p "$$1" 2>/dev/null) =~ ^[^Z] ]]; }  # a zombie has exited
	for name in "$${started[@]}"; do
	  pid=$$(cat $(RUN_DIR)/$$name.pid); log=$(LOG_DIR)/$$name.log
	  until [[ -f $(RUN_DIR)/$$name.ready ]]; do
	    if ! alive "$$pid"; then
	      echo "error: $$name exited before it was ready: $$(bash scripts/last_error.sh $$log)" >&2
	      rm -f $(RUN_DIR)/$$name.pid; exit 1
	    fi
	    if (( SECONDS >= deadline )); then
	      echo "error: $$name not consuming after $(START_TIMEOUT)s: $$(bash scripts/last_error.sh $$log)" >&2
	      bash scripts/stop_pid.sh "$$pid" 10 && rm -f $(RUN_DIR)/$$name.pid
	      exit 1
	    fi
	    sleep 0.2
	  done
	  echo "$$name: consuming"
	done
	$(if $(filter start,$(MAKECMDGOALS)),,echo "consumers keep running, nothing published:" \
	  "submit files with 'make api', 'make watch' or the producer; 'make logs' to follow" \
	  "them, 'make stop' to stop them")

start: install consumers ## Start the consumers as `consumers` does, publish INGEST_FILE, wait until it is loaded
	@mkdir -p $(LOG_DIR)
	echo "producer: publishing $(INGEST_FILE), then waiting until it is loaded (log $(LOG_DIR)/producer.log)"
	rc=0
	.venv/bin/producer --file "$(INGEST_FILE)" --wait > $(LOG_DIR)/producer.out \
	  2> $(LOG_DIR)/producer.log || rc=$$?
	cat $(LOG_DIR)/producer.out
	if (( rc != 0 )); then
	  echo "error: producer exited $$rc; see $(LOG_DIR)/producer.log" >&2; tail -n 3 $(LOG_DIR)/producer.log >&2
	fi
	echo "consumers keep running: 'make logs' to follow them, 'make stop' to stop them"
	exit $$rc

api: install ## Serve the HTTP API (ingest api; INGEST_API_HOST/PORT/TOKEN, INGEST_URL_ALLOW ...)
	@exec .venv/bin/ingest api

watch: install ## Publish each file dropped into WATCH_DIR as its own job, in the foreground (Ctrl-C stops)
	@mkdir -p $(WATCH_DIR)
	echo "watch: publishing each complete file dropped into $(WATCH_DIR)/ (write it as NAME.part, then rename it); Ctrl-C stops" >&2
	exec .venv/bin/producer watch "$(WATCH_DIR)" $(WATCH_ARGS)

logs: ## Follow the logs of the running consumers and of `make start`'s last producer
	@shopt -s nullglob
	files=()
	for pidfile in $(RUN_DIR)/consumer-*.pid; do files+=($(LOG_DIR)/$$(basename $$pidfile .pid).log); done
	[[ -f $(LOG_DIR)/producer.log ]] && files+=($(LOG_DIR)/producer.log)
	(( $${#files[@]} )) || { echo "nothing started by 'make consumers' or 'make start': no logs to follow"; exit 0; }
	exec tail -n 20 -F "$${files[@]}"

stop: ## Stop the consumers `make consumers` or `make start` started (SIGTERM, then wait)
	@shopt -s nullglob
	timeout=$$(( $$(printf '%.0f' "$(CONSUMER_SHUTDOWN_TIMEOUT)") + 5 ))
	pids=(); names=()
	for pidfile in $(RUN_DIR)/*.pid; do
	  pid=$$(cat $$pidfile); name=$$(basename $$pidfile .pid)
	  if ! kill -0 "$$pid" 2>/dev/null || ! ps -o args= -p "$$pid" | grep -q consumer; then
	    echo "$$name: not running (stale pid file removed)"; rm -f $$pidfile $(RUN_DIR)/$$name.ready
	    continue
	  fi
	  kill -TERM "$$pid"; pids+=("$$pid"); names+=("$$name"); echo "$$name: SIGTERM (pid $$pid)"
	done
	(( $${#pids[@]} )) || { echo "nothing running"; exit 0; }
	deadline=$$(( SECONDS + timeout ))
	while :; do
	  alive=()
	  for k in "$${!pids[@]}"; do
	    if kill -0 "$${pids[$$k]}" 2>/dev/null; then alive+=("$${pids[$$k]}")
	    else rm -f $(RUN_DIR)/$${names[$$k]}.pid $(RUN_DIR)/$${names[$$k]}.ready; fi
	  done
	  (( $${#alive[@]} )) || { echo "stopped $${#pids[@]} consumer(s)"; exit 0; }
	  (( SECONDS < deadline )) || break
	  sleep 0.2
	done
	echo "error: still running after $${timeout}s: pid(s) $${alive[*]} (pid files kept:" \
	  "'make stop' again, or kill -KILL them)" >&2
	exit 1

status: ## Show which consumers started by `make consumers` or `make start` are running
	@shopt -s nullglob
	files=($(RUN_DIR)/*.pid)
	(( $${#files[@]} )) || { echo "nothing running"; exit 0; }
	for pidfile in "$${files[@]}"; do
	  pid=$$(cat $$pidfile); name=$$(basename $$pidfile .pid)
	  if ! kill -0 "$$pid" 2>/dev/null; then echo "$$name: not running (stale pid file $$pidfile)"
	  elif [[ -f $(RUN_DIR)/$$name.ready ]]; then echo "$$name: running (pid $$pid)"
	  else echo "$$name: running, not consuming yet (pid $$pid)"; fi
	done

test: install ## Run the test suite (PYTEST_ARGS="-m unit" to narrow it)
	@env $(TEST_UNSET) .venv/bin/python -m pytest $(PYTEST_ARGS)

check: install ## Lint (ruff) and type-check (mypy strict)
	@rc=0
	.venv/bin/ruff check . || rc=1
	.venv/bin/mypy || rc=1
	exit $$rc

data: install ## Generate data/generated/customers-SHAPE-ROWS-seedSEED-keysA-B-clean|dirty.csv (ROWS SEED SHAPE FIRST_KEY DIRTY=1)
	@.venv/bin/python scripts/gendata.py --out-dir data/generated $(if $(ROWS),--rows $(ROWS)) \
	  $(if $(SEED),--seed $(SEED)) $(if $(SHAPE),--shape $(SHAPE)) \
	  $(if $(FIRST_KEY),--first-key $(FIRST_KEY)) $(if $(filter 1,$(DIRTY)),--dirty)

samples: install ## Convert SAMPLE_CSV to .jsonl, .csv.gz, .csv.zst, .jsonl.gz, .parquet in volumes/samples/
	.venv/bin/python scripts/convert_sample.py $(SAMPLE_CSV) --out-dir volumes/samples
	.venv/bin/python scripts/to_parquet.py --in $(SAMPLE_CSV) --dataset $(SAMPLE_DATASET) \
	  --out volumes/samples/$(basename $(notdir $(SAMPLE_CSV))).parquet

demo: install infra migrate-db migrate-examples ## Load the bundled samples (DEMO_DATASETS) with burst consumers
	@mkdir -p $(LOG_DIR)
	shopt -s nullglob
	for name in $(DEMO_DATASETS); do
	  samples=(data/$${name}_sample.*)
	  (( $${#samples[@]} == 1 )) || { echo "error: want one data/$${name}_sample.*, found $${#samples[@]}" >&2; exit 2; }
	  echo "== producer: $${samples[0]} (dataset $$name)"
	  .venv/bin/producer --no-progress --dataset "$$name" --file "$${samples[0]}" \
	    2> $(LOG_DIR)/demo-producer-$$name.log
	done
	echo "== consumers: $(CONSUMERS) x consumer --burst"
	pids=()
	for i in $$(seq 1 $(CONSUMERS)); do
	  env -u INGEST_DATASET .venv/bin/consumer --burst \
	    > $(LOG_DIR)/demo-consumer-$$i.out 2> $(LOG_DIR)/demo-consumer-$$i.log &
	  pids+=($$!)
	done
	rc=0; for pid in "$${pids[@]}"; do wait "$$pid" || rc=$$?; done
	cat $(LOG_DIR)/demo-consumer-*.out
	(( rc == 0 )) || { echo "error: a consumer exited $$rc; see $(LOG_DIR)/demo-consumer-*.log" >&2; exit $$rc; }
	echo "== database"
	.venv/bin/python scripts/db_counts.py

bench: install ## psql \copy, the pipeline and pgloader side by side (BENCH_ARGS="--matrix ...": bench/README.md)
	@.venv/bin/python bench/bench.py $(BENCH_ARGS)

clean-data: ## Remove generated data files and the logs and pid files under volumes/
	@rm -rf data/generated volumes/samples $(LOG_DIR) $(RUN_DIR)

# `make print-VAR`: the value make uses for VAR (after env files and overrides).
print-%:
	@printf '%s\n' '$(subst ','\'',$($*))'
