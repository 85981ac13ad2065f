#!/usr/bin/env bash
# Fill .whl/ (git-ignored) with the wheels benchmarks/gpu_check.py installs on the lent GPU machine: Snakemake at the
# version requirements.txt pins, and every dependency that machine's CPython 3.12 image does not already have
# (/work/.library/device/KINDS.md lists its packages). Run from the repository root, where pip reaches PyPI:
#     bash benchmarks/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PIP=${PIP:-.venv/bin/pip}
rm -rf .whl && mkdir .whl
# connection_pool 0.0.3 is published as source only: build its (pure-Python) wheel here
"$PIP" wheel -q --no-deps -w .whl connection_pool==0.0.3
platforms=()
for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64 manylinux_2_24_x86_64 \
         manylinux_2_5_x86_64 manylinux1_x86_64; do platforms+=(--platform "$p"); done
"$PIP" download -q -d .whl --find-links .whl --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" "snakemake==$(sed -n 's/^snakemake==//p' requirements.txt)" -c requirements.txt
# already on the machine; packaging and typing_extensions stay: Snakemake needs packaging<26 and pydantic a
# typing_extensions at least as new as the one here
for name in attrs certifi charset_normalizer idna jinja2 markupsafe psutil pyyaml requests tabulate urllib3 wrapt; do
  rm -f .whl/"$name"-*.whl
done
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
