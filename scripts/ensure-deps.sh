#!/usr/bin/env bash
# Installs whatever Baton needs on a fresh Debian 12 machine, then runs the
# command it was given (`npm start`, `npm test`, `npm run bench`).
# Idempotent: on a machine that has everything it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: compilers for the addon, iproute2 for the lab, DPDK for the
# poll-mode back-end, and the real kernel-side tools the functional tests drive.
# wrk and nginx-light: the TCP bench's connection-rate load tool and its kernel
# HTTP reference server (bench/kernel-nginx.ts; the bench fails without them).
# tcpdump: the failover tests capture a stuck connection's segments for their report;
# socat and curl: kernel clients of the functional tests (half-close, downloads).
DEB_PACKAGES=(
  build-essential python3 pkg-config iproute2 iputils-ping
  dpdk dpdk-dev libdpdk-dev
  flatbuffers-compiler
  wrk nginx-light
  tcpdump socat curl
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "ensure-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, then the build (`prepare` runs tsc and generates the C header).
stamp=node_modules/.baton-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  touch "$stamp"
fi

if [ $# -gt 0 ]; then exec "$@"; fi
