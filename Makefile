# hmtl_tf — every command sets itself up from nothing (virtual environment + install) first.
SHELL := /bin/bash
PY_BOOT ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCALE ?=
DATA_ROOT ?= data/raw
DATA_OUT ?= data/shards
OUT ?= demo_out
TEST_WORKERS ?= 2
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: help install demo test test-fast test-all data synthetic bench lint clean

help:
	@echo "make demo        synthetic data -> train SL and HMTL (demo scale, CPU) -> table, curves, drawn axes in $(OUT)/"
	@echo "make test        the test suite (sets up .venv first)"
	@echo "make data DATA_ROOT=...   convert 300W-LP, AFLW2000, BIWI, ETH-XGaze found there into shards in $(DATA_OUT)/"
	@echo "make bench       benchmarks/ (input pipeline, train step, ...)"

$(STAMP): setup.py
	test -x $(PYTHON) || $(PY_BOOT) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip setuptools wheel
	$(PYTHON) -m pip install -q -e ".[test,export]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m hmtl_tf.demo --out=$(OUT)

test: $(STAMP)
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --durations=15 tests

test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) -m "not slow" tests

test-all: $(STAMP)
	HMTL_RUN_SLOW=1 $(PYTHON) -m pytest -q -n $(TEST_WORKERS) tests

synthetic: $(STAMP)
	$(PYTHON) -m data_prep.make_synthetic --out=data/synthetic

data: $(STAMP)
	sources=$$($(PYTHON) -m hmtl_tf.data.datasets) || exit 1; \
	for ds in $$sources; do \
	  $(PYTHON) -m data_prep.prepare --dataset=$$ds --root=$(DATA_ROOT) --out=$(DATA_OUT) --skip_missing || exit 1; \
	done

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PYTHON) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# ---- paper tables (experiments/, issue 4): SCALE=paper|smoke (default: paper when real shards are in DATA_OUT) ----
RUNS ?= runs
RESULTS ?= results
EXP_FLAGS = --runs_dir=$(RUNS) --results_dir=$(RESULTS) --data_root=$(DATA_OUT) $(if $(SCALE),--scale=$(SCALE),)
.PHONY: reproduce-table1 reproduce-table2 reproduce-table3 reproduce-table4 reproduce-table5 reproduce-table6 eval-biwi eval-aflw2000
reproduce-table1 reproduce-table2 reproduce-table3 reproduce-table4 reproduce-table5 reproduce-table6: $(STAMP)
	$(PYTHON) -m experiments.run --table=$(subst reproduce-table,,$@) $(EXP_FLAGS)

eval-biwi: $(STAMP)
	$(PYTHON) -m experiments.run --evaluate=biwi $(EXP_FLAGS)

eval-aflw2000: $(STAMP)
	$(PYTHON) -m experiments.run --evaluate=aflw2000 $(EXP_FLAGS)

# ---- KD-OE Table 5, protocol 1 (experiments/kdoe.py, issue 5): SCALE=paper|smoke; KDOE_DATA = shards prepared
# with --crop_policy=boxes and their YOLOv5 box files (commands in experiments/kdoe.py) -> $(RESULTS)/kdoe_table5.md/.csv
KDOE_DATA ?= data/shards_kdoe
.PHONY: reproduce-kdoe
reproduce-kdoe: $(STAMP)
	$(PYTHON) -m experiments.kdoe --runs_dir=$(RUNS) --results_dir=$(RESULTS) --data_root=$(KDOE_DATA) $(if $(SCALE),--scale=$(SCALE),)

# ---- MNN training strategies (experiments/mnn.py, issue 5): Pose / Sym / Pre+Sym / Pre+Pose on 300W-LP ->
# AFLW2000 and BIWI -> $(RESULTS)/mnn.md/.csv beside their Table 2 MNN row
.PHONY: reproduce-mnn
reproduce-mnn: $(STAMP)
	$(PYTHON) -m experiments.mnn --runs_dir=$(RUNS) --results_dir=$(RESULTS) --data_root=$(DATA_OUT) $(if $(SCALE),--scale=$(SCALE),)
