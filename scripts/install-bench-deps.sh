#!/usr/bin/env bash
# System packages the benchmarks use (benchmarks/run.ts calls this when a row needs one):
# nginx, the non-Node reference proxy, and taskset (util-linux), which pins the proxy under test
# and the load generator to different cores. Idempotent: installs nothing when all are present.
# Needs root (or sudo) and Debian's apt, as on CI.
#
# The benchmark runs its own nginx as the current user, with a config in a temp dir, on free
# ports; the Debian package's own service is not wanted, so it is stopped and disabled after the
# install (the package starts it on port 80).
set -euo pipefail
need=()
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
has nginx || need+=(nginx)
has taskset || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing benchmark dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ " ${need[*]} " == *" nginx "* ]]; then
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
    # Without systemd the package's init script started a daemon from /etc/nginx/nginx.conf; stop
    # exactly that one through its own pid file (not by name: a benchmark's nginx may be running).
    if [ -s /run/nginx.pid ]; then
      nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
      $SUDO "$nginx_bin" -s quit >/dev/null 2>&1 || echo "could not stop the packaged nginx service" >&2
    fi
  fi
fi
