#!/usr/bin/env bash
# Builds the node-addon-api addon in native/ with the node-gyp that npm ships.
# Node's headers come from the machine (Debian's /usr/include/node): there is no
# internet to download them from.
set -euo pipefail
cd "$(dirname "$0")/../native"
gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ] || [ ! -f "$gyp" ]; then
  gyp="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
fi
nodedir="${npm_config_nodedir:-}"
if [ -z "$nodedir" ]; then
  for d in /usr /usr/local; do
    if [ -f "$d/include/node/node_api.h" ]; then nodedir="$d"; break; fi
  done
fi
if [ -z "$nodedir" ]; then
  echo "build-native: Node's C headers (node_api.h) not found under /usr or /usr/local" >&2
  exit 1
fi
exec node "$gyp" rebuild --nodedir="$nodedir" --jobs=2 --loglevel=warn
