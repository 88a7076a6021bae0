#!/usr/bin/env bash
# Build docker/Dockerfile.cpu and run its demo and tests on a host that
# cannot reach Docker Hub, nor PyPI from inside a container: the base image
# is made locally from Debian packages and the Python stack comes from a
# wheelhouse. Run as root on Debian bookworm (debootstrap and docker.io
# installed), from the repository root, after scripts/install.sh has made
# .venv: its pip cache holds the mmcv wheel that the wheelhouse reuses.
#
#   bash docker/build_local_test.sh daemon    # dockerd (vfs, no iptables)
#   bash docker/build_local_test.sh base      # python:3.11-slim stand-in
#   bash docker/build_local_test.sh wheels    # docker/wheelhouse
#   bash docker/build_local_test.sh build     # mmfasternet:cpu
#   bash docker/build_local_test.sh demo      # default command, uid 1000
#   bash docker/build_local_test.sh test      # bash scripts/test.sh, uid 1000
#   bash docker/build_local_test.sh all       # all of the above, in order
#
# Environment: LAB (default /tmp/dockerlab: base tree, daemon data, logs of
# dockerd, build, demo and test), MIRROR (Debian mirror for debootstrap),
# CPU_SHARES (the containers' --cpu-shares, default 128, so they yield to
# other work on the host). Results measured with it: docker/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lab="${LAB:-/tmp/dockerlab}"
image=mmfasternet:cpu
usage="usage: $0 base|daemon|wheels|build|demo|test|all"
case "${1:-}" in
  base|daemon|wheels|build|demo|test|all) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
mkdir -p "$lab"

log() { echo "build_local_test: $*"; }

base() {
  # python:3.11-slim is Debian bookworm with Python 3.11, pip and venv, and
  # python/python3/pip/pip3 on PATH; Debian's own python3.11 stands in for
  # the official build (headers included, like the official image).
  if [[ ! -x "$lab/rootfs/usr/bin/python3.11" ]]; then
    debootstrap --variant=minbase \
      --include=python3.11,python3.11-venv,python3.11-dev,python3-venv,python3-pip,ca-certificates \
      bookworm "$lab/rootfs" "${MIRROR:-http://deb.debian.org/debian}"
  fi
  ln -sf python3 "$lab/rootfs/usr/bin/python"
  rm -rf "$lab/rootfs/var/lib/apt/lists/"* "$lab/rootfs/var/cache/apt/"*.bin
  tar -C "$lab/rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - python:3.11-slim
  docker run --rm python:3.11-slim sh -c \
    'python -V && python3 -m venv /tmp/v && pip --version'
}

daemon() {
  if docker info >/dev/null 2>&1; then
    log "dockerd already running"
    return
  fi
  mkdir -p "$lab/data"
  nohup dockerd --storage-driver vfs --iptables=false --bridge=none \
    --data-root "$lab/data" >"$lab/dockerd.log" 2>&1 &
  for _ in $(seq 30); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  log "dockerd did not start, see $lab/dockerd.log" >&2
  exit 1
}

wheels() {
  bash docker/make_wheelhouse.sh docker/wheelhouse
}

build() {
  local start=$SECONDS
  docker build --network host -f docker/Dockerfile.cpu \
    --build-arg WHEELHOUSE=docker/wheelhouse -t "$image" . \
    2>&1 | tee "$lab/build.log"
  log "build: $((SECONDS - start)) s"
  docker image inspect "$image" --format 'size: {{.Size}} bytes'
}

run_as_user() {  # docker run as uid 1000 with work_dirs mounted from $lab
  mkdir -p "$lab/work_dirs"
  chown 1000:1000 "$lab/work_dirs"
  docker run --rm --network none --user 1000 \
    --cpu-shares "${CPU_SHARES:-128}" --shm-size 1g \
    -v "$lab/work_dirs:/mmfasternet/work_dirs" "$image" "$@"
}

demo() {
  local start=$SECONDS
  run_as_user 2>&1 | tee "$lab/demo.log"
  log "demo: $((SECONDS - start)) s"
}

test_in_image() {
  local start=$SECONDS
  run_as_user bash scripts/test.sh -q 2>&1 | tee "$lab/test.log"
  log "test: $((SECONDS - start)) s"
}

case "${1:-}" in
  base) base ;;
  daemon) daemon ;;
  wheels) wheels ;;
  build) build ;;
  demo) demo ;;
  test) test_in_image ;;
  all) daemon; base; wheels; build; demo; test_in_image ;;
esac
