#!/usr/bin/env bash
# The Docker grading backend's daemon and image, without a registry:
#   scripts/docker-grading.sh start   start a private dockerd (socket under $AIML_DOCKER_DIR) if none answers
#   scripts/docker-grading.sh image   build the grading image from Debian packages (debootstrap) if missing
#   scripts/docker-grading.sh stop    stop the private dockerd
# The image holds Debian's python3 only; the grader bind-mounts its own virtual environment (built from
# /usr/bin/python3, the same interpreter) read-only, so the image never needs rebuilding for new packages.
set -euo pipefail
D=${AIML_DOCKER_DIR:-/srv/aiml-docker}
IMAGE=${AIML_DOCKER_IMAGE:-aiml-grading:bookworm}
export DOCKER_HOST=unix://$D/docker.sock

start() {
  if docker info >/dev/null 2>&1; then return; fi
  mkdir -p "$D"
  # no bridge and no iptables: containers run with --network none, and the host network is left alone
  dockerd -H "$DOCKER_HOST" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/docker.pid" \
    --storage-driver overlay2 --bridge none --iptables=false --ip-masq=false \
    --exec-opt native.cgroupdriver=cgroupfs >"$D/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && return; sleep 0.2; done
  echo "dockerd did not start; see $D/dockerd.log" >&2
  exit 1
}

image() {
  start
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then return; fi
  # the Debian mirror this machine already uses (never hard-coded)
  mirror=$( (grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null || true) \
           | grep -v security | head -1 | tr -d ' ')
  [[ -n $mirror ]] || { echo "no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
  rootfs=$D/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$mirror" >"$D/debootstrap.log" 2>&1
  tar -C "$rootfs" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . \
    | docker import -c 'CMD ["python3"]' - "$IMAGE" >/dev/null
  rm -rf "$rootfs"
  echo "built $IMAGE"
}

stop() {
  if [[ -f $D/docker.pid ]]; then kill "$(cat "$D/docker.pid")" 2>/dev/null || true; fi
}

"${1:?usage: docker-grading.sh start|image|stop}"
