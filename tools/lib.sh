# shellcheck shell=bash
# Shared helpers for CodeEngine's tools/ scripts and .ci/run.
# Source it (do not execute it): installs dependencies, starts docker,
# builds the server and prints progress lines.

# Make `set -e` apply inside $(...) too, so helpers used that way fail loudly.
shopt -s inherit_errexit

# Repository root, whatever the caller's working directory.
CE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CE_ROOT

# Debian packages the project needs to build, prepare bundles and serve
# (libseccomp: the filter compiled once; libsqlite3: the job store;
# libcurl: delivery of asynchronous results to a client's callback_url;
# libzip: the zip archives clients send, read in memory;
# mmdebstrap: the local Debian base image when the registry's cannot be
# pulled; libjs-codemirror: the playground's editor, embedded at build time).
CE_DEPS=(
  build-essential cmake pkg-config libmicrohttpd-dev libyajl-dev libsqlite3-dev
  libcurl4-openssl-dev libwslay-dev nettle-dev libseccomp-dev libzip-dev
  libhiredis-dev libsystemd-dev libjs-codemirror
  runc skopeo umoci docker.io mmdebstrap jq python3 curl uidmap
)
# ... and to test: clang and its runtime (the fuzzer, sanitizers), node and
# npm (the Piston clients), qemu-system-x86 and e2fsprogs (the cgroup v2 VM
# of tests/vm/run-vm-suite), nghttp2-client (tools/bench's h2load),
# python3-websocket (test_hostile.py's WebSocket client); redis-server,
# haproxy and prometheus (promtool and the scraper) for the cluster test,
# systemd (systemd-analyze verify) and python3-yaml for deploy/'s lint;
# chromium, chromium-driver and python3-selenium drive the playground's page.
CE_TEST_DEPS=(
  clang libclang-rt-14-dev nodejs npm chromium chromium-driver python3-selenium
  qemu-system-x86 e2fsprogs nghttp2-client python3-websocket
  redis-server haproxy prometheus systemd python3-yaml
)

CE_START_SECONDS="${CE_START_SECONDS:-$(date +%s)}"

# ce_log MSG...: a progress line on stderr.
ce_log() {
  printf '%s\n' "$*" >&2
}

# ce_die MSG...: print an error and exit 1.
ce_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# ce_phase NAME: a timestamped phase header (wall clock and elapsed seconds).
ce_phase() {
  local now
  now="$(date +%s)"
  printf '==> [%s +%ss] %s\n' "$(date -u +%H:%M:%SZ)" \
    "$((now - CE_START_SECONDS))" "$*" >&2
}

# ce_is_root: true when running as root.
ce_is_root() {
  [[ "${EUID}" -eq 0 ]]
}

# ce_pkg_installed PKG: true when dpkg says PKG is installed.
ce_pkg_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)"
  [[ "${status}" == "installed" ]]
}

# ce_dep_present PKG: like ce_pkg_installed, but accepts a docker engine that
# came from elsewhere (e.g. docker-ce) so we never fight over /usr/bin/docker.
ce_dep_present() {
  if ce_pkg_installed "$1"; then
    return 0
  fi
  if [[ "$1" == "docker.io" ]] && command -v docker >/dev/null 2>&1 &&
    command -v dockerd >/dev/null 2>&1; then
    return 0
  fi
  # The test clients need node and npm, wherever they came from (a Node.js
  # package that bundles npm, say): Debian's npm would fight it.
  if [[ "$1" == "nodejs" ]] && command -v node >/dev/null 2>&1; then
    return 0
  fi
  if [[ "$1" == "npm" ]] && command -v npm >/dev/null 2>&1; then
    return 0
  fi
  return 1
}

# ce_missing_deps serve|test: print the missing packages of CE_DEPS (and, with
# "test", of CE_TEST_DEPS), one per line.
ce_missing_deps() {
  local pkg pkgs=("${CE_DEPS[@]}")
  if [[ "${1:-}" == "test" ]]; then
    pkgs+=("${CE_TEST_DEPS[@]}")
  fi
  for pkg in "${pkgs[@]}"; do
    if ! ce_dep_present "${pkg}"; then
      printf '%s\n' "${pkg}"
    fi
  done
}

# ce_apt_update: apt-get update once per process tree (CE_APT_UPDATED=1 skips).
ce_apt_update() {
  if [[ "${CE_APT_UPDATED:-0}" == "1" ]]; then
    return 0
  fi
  apt-get update
  CE_APT_UPDATED=1
  export CE_APT_UPDATED
}

# ce_install_deps serve|test: install whatever of CE_DEPS (with "test": and of
# CE_TEST_DEPS) is missing. A ready machine does no apt at all; as non-root,
# print the command to run and exit 1.
ce_install_deps() {
  local missing=()
  mapfile -t missing < <(ce_missing_deps "${1:-}")
  if [[ "${#missing[@]}" -eq 0 ]]; then
    return 0
  fi
  if ! ce_is_root; then
    ce_log "missing packages: ${missing[*]}"
    ce_log "run as root:  sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  ce_log "installing: ${missing[*]}"
  ce_apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# ce_docker_up: true when a docker daemon answers.
ce_docker_up() {
  docker info >/dev/null 2>&1
}

# ce_docker_hint: explain how to get a docker daemon.
ce_docker_hint() {
  ce_log "no docker daemon answers (docker info failed)."
  ce_log "start it: systemctl start docker, or as root:"
  ce_log "  setsid dockerd --bridge=none --iptables=false </dev/null >/var/log/codeengine-dockerd.log 2>&1 &"
  ce_log "as non-root you also need access to /var/run/docker.sock (group docker)."
}

# ce_has_systemd: true when systemd is PID 1.
ce_has_systemd() {
  [[ -d /run/systemd/system ]] && [[ "$(ps -p 1 -o comm= 2>/dev/null)" == "systemd" ]]
}

# ce_spawn_detached LOG CMD...: start CMD as a daemon in its own session, stdin
# /dev/null, stdout and stderr appended to LOG, and no other fd of ours: a
# daemon that inherited one would hold it for its whole life (an inherited
# flock fd kept tools/prepare-bundles' lock taken forever). Sets
# CE_SPAWNED_PID to the daemon's pid.
ce_spawn_detached() {
  local log="$1"
  shift
  (
    local fd
    # The glob is expanded by this subshell, so /proc/self is the subshell;
    # the directory fd the expansion used is already closed, hence 2>/dev/null.
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      if [[ "${fd}" =~ ^[0-9]+$ ]] && ((fd > 2)); then
        exec {fd}>&- 2>/dev/null || true
      fi
    done
    exec setsid "$@" </dev/null >>"${log}" 2>&1
  ) &
  CE_SPAWNED_PID=$!
}

# ce_start_dockerd: start a docker daemon in the background (root only).
ce_start_dockerd() {
  local log=/var/log/codeengine-dockerd.log
  if ce_has_systemd && systemctl start docker; then
    return 0
  fi
  ce_spawn_detached "${log}" dockerd --bridge=none --iptables=false
  ce_log "started dockerd in the background (pid ${CE_SPAWNED_PID}, log: ${log})"
}

# ce_wait_docker SECONDS: wait until docker answers, saying every 10 s what it
# waits for; false on timeout.
ce_wait_docker() {
  local limit="$1" start="${SECONDS}" next=$((SECONDS + 10))
  until ce_docker_up; do
    if ((SECONDS - start >= limit)); then
      return 1
    fi
    if ((SECONDS >= next)); then
      ce_log "waiting for the docker daemon to answer ($((SECONDS - start)) s of ${limit} s)"
      next=$((SECONDS + 10))
    fi
    sleep 1
  done
}

# ce_ensure_docker: make sure a docker daemon answers, starting one as root.
ce_ensure_docker() {
  if ce_docker_up; then
    return 0
  fi
  if ! ce_is_root; then
    ce_docker_hint
    exit 1
  fi
  ce_start_dockerd
  if ! ce_wait_docker 60; then
    ce_log "dockerd did not answer within 60 s; see /var/log/codeengine-dockerd.log"
    ce_docker_hint
    exit 1
  fi
  ce_log "docker is up"
}

# ce_build [BUILD_DIR] [extra cmake args...]: configure and build the server.
ce_build() {
  local dir="${1:-build}"
  if [[ $# -gt 0 ]]; then
    shift
  fi
  cmake -S "${CE_ROOT}" -B "${dir}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "${dir}" -j"$(nproc)"
}
