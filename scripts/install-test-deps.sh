#!/usr/bin/env bash
# System packages the test suite uses for real parts: prometheus (PromQL checks against a real
# server) and chromium (the HTML report is opened in a real headless browser). Idempotent: does
# nothing when both are present. Needs root (or sudo) and Debian's apt, as on CI.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing test dependencies: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a system Prometheus on :9090; tests run their own on random ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
$SUDO pkill -x prometheus >/dev/null 2>&1 || true
