# Two entry points: `make run` (the default study on synthetic data) and `make test` (`make test-fast`: unit tests).
# Both create .venv on first use and reinstall only when requirements.txt or pyproject.toml change.
VENV     := .venv
STAMP    := $(VENV)/.installed
CORES    ?= 2
CONFIG   ?= config.yaml
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1
# A config file is code to Snakemake (`__use_yte__: true` runs its expressions while loading): the targets that pass
# --configfile first refuse such a file, with one line saying how to run it anyway (docs/audit.md).
PLAIN    := python -m embnorm.config --plain $(CONFIG)

.PHONY: run fmnist test test-fast lint dag clean config-reference results-docs benchmarks-doc report-zip

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

run: $(STAMP)
	$(PLAIN)
	snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete
	snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html

# The claims study on real images (Fashion-MNIST; needs `apt-get install dataset-fashion-mnist`, docs/data.md).
fmnist:
	$(MAKE) run CONFIG=config/fmnist.yaml

# The same report as one zip (report/report.html beside the result files), after `make run`: smaller and quicker to open
# than the single HTML file for a large study, and the form the Snakemake workflow catalog documents.
report-zip: $(STAMP)
	$(PLAIN)
	snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.zip

# PYTHONDONTWRITEBYTECODE is emptied for the tests: where it is set (as on the CI machine), each of the suite's Python
# processes (about 150 workflow jobs and embnorm commands) compiles the package's modules again, and each pytest worker
# rewrites every test module again (2 s of its collection); emptied, each is compiled once into a git-ignored
# __pycache__.
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= pytest -n $(CORES) --dist loadgroup --no-loadscope-reorder

# The unit tests alone (pytest -m fast, the tier tests/conftest.py marks): no workflow, no process (CONTRIBUTING.md).
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= pytest -m fast -n $(CORES)

lint: $(STAMP)
	snakemake --lint

dag: $(STAMP)
	$(PLAIN)
	snakemake -n --configfile $(CONFIG)

clean:
	rm -rf results .snakemake

# Regenerate the schema's `analysis` block from the analyses' declarations (embnorm.analysis.registry), then the
# configuration reference from the schema, in config/README.md (the catalog's page; the README links it).
config-reference: $(STAMP)
	python -m embnorm.present.schema_doc workflow/schemas/config.schema.yaml config/README.md

# Write a finished study's claims table and figures to its page (docs/results.md, figures in docs/figures/) and the
# README's verdict table, every study on record side by side (docs/*.verdicts.json), each stamped with its commit and
# config: `make results-docs CONFIG=config/claims.yaml` after that study; for the Fashion-MNIST study, run in another
# folder, `make results-docs RESULTS=<its folder>/results CONFIG=config/fmnist.yaml STUDY=fmnist`.
RESULTS  ?= results
STUDY    ?= synthetic
STUDIES  := docs/results.verdicts.json docs/results-fmnist.verdicts.json
ifeq ($(STUDY),fmnist)
STUDY_ARGS := --page docs/results-fmnist.md --label Fashion-MNIST --figures docs/figures/fmnist --curves docs/training.md
RECORD     := docs/results-fmnist.verdicts.json
else
STUDY_ARGS := --page docs/results.md --label synthetic
RECORD     := docs/results.verdicts.json
endif
results-docs: $(STAMP)
	python -m embnorm.present.results_docs --results $(RESULTS) $(STUDY_ARGS) --config $(CONFIG) --readme README.md \
	    --studies $(foreach r,$(STUDIES),$(if $(or $(wildcard $(r)),$(filter $(r),$(RECORD))),$(r)))

# Measure the speed ratios (benchmarks/speed.py: 46 s on the 2-core machine, 2026-12-03; run it on an otherwise idle
# machine) and write them, with the measurements recorded in benchmarks/recorded.tsv, to docs/benchmarks.md.
benchmarks-doc: $(STAMP)
	python benchmarks/speed.py --markdown docs/benchmarks.md
