#!/usr/bin/env bash
# Install everything the course platform needs on a fresh Debian machine: system packages (as root) and a
# virtual environment in .venv built from Debian's /usr/bin/python3 (world-readable, so the sandbox's
# unprivileged user can run it). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker: optional backend; postgresql: gradebook tests; chromium: hub and dashboard browser tests;
# dataset-fashion-mnist: the complete Fashion-MNIST for Parts 5-6 (30 MB, offline afterwards);
# bible-kjv: the King James Bible (with bible-kjv-text, 2.5 MB), a corpus of Part 9 (load_text("kjv"))
APT_PACKAGES=(bubblewrap docker.io debootstrap postgresql chromium dataset-fashion-mnist bible-kjv)
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "install: apt packages ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
  fi
  # r-cran-janeaustenr: Jane Austen's six novels for Part 9 (1.6 MB). Its package depends on R (r-base-core), which
  # the course never runs (aiml_notebooks reads the R data with pip's rdata), so unpack the .deb's files only.
  austen=/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb
  if [[ ! -f $austen ]]; then
    echo "install: r-cran-janeaustenr (files only, without R)"
    deb_dir=$(mktemp -d) && chmod 755 "$deb_dir"  # apt downloads as its _apt user
    # stale or empty package lists (a fresh image whose other packages were all present): update once, retry
    (cd "$deb_dir" && { apt-get download -qq r-cran-janeaustenr >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get download -qq r-cran-janeaustenr >/dev/null; }; }) \
      && dpkg-deb -x "$deb_dir"/r-cran-janeaustenr_*.deb / \
      || echo "install: r-cran-janeaustenr unavailable (Part 9's Austen corpus will be missing)" >&2
    rm -rf "$deb_dir"
  fi
else
  echo "install: not root; make sure these Debian packages are installed: ${APT_PACKAGES[*]}" >&2
  echo "install: and r-cran-janeaustenr's files: apt-get download r-cran-janeaustenr; dpkg-deb -x it into \
a folder; copy its usr/lib/R/site-library/janeaustenr to \$AIML_DATA_DIR/janeaustenr" >&2
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
