# Two entry points: `make run` (the default study on synthetic data) and `make test`.
# Both create .venv on first use and reinstall only when requirements.txt or pyproject.toml change.
VENV     := .venv
STAMP    := $(VENV)/.installed
CORES    ?= 2
CONFIG   ?= config.yaml
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test lint dag report clean

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

run: $(STAMP)
	snakemake --cores $(CORES) --configfile $(CONFIG)
	snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

test: $(STAMP)
	pytest

lint: $(STAMP)
	snakemake --lint

dag: $(STAMP)
	snakemake -n --configfile $(CONFIG)

clean:
	rm -rf results .snakemake
