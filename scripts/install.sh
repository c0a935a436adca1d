#!/usr/bin/env bash
# Install everything the course platform needs on a fresh Debian machine: system packages (as root) and a
# virtual environment in .venv built from Debian's /usr/bin/python3 (world-readable, so the sandbox's
# unprivileged user can run it). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker: optional backend; postgresql: gradebook tests; chromium: hub and dashboard browser tests;
# dataset-fashion-mnist: the complete Fashion-MNIST for Parts 5-6 (30 MB, offline afterwards)
APT_PACKAGES=(bubblewrap docker.io debootstrap postgresql chromium dataset-fashion-mnist)
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "install: apt packages ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
  fi
else
  echo "install: not root; make sure these Debian packages are installed: ${APT_PACKAGES[*]}" >&2
fi

PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
if [[ ! -x .venv/bin/python ]]; then
  echo "install: creating .venv with $PY"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
# the CPU build of torch first: a plain `torch` requirement would otherwise pull a multi-GB CUDA build
.venv/bin/python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import torch, lightning, nbgrader, aiml_course, aiml_notebooks" \
  && echo "install: ok ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
if [[ $(id -u) == 0 ]] && command -v dockerd >/dev/null; then
  # the Docker backend's private daemon and registry-free image (about a minute the first time); optional
  scripts/docker-grading.sh image || echo "install: Docker backend unavailable (its tests will be skipped)" >&2
fi
touch .venv/.installed
