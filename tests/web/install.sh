#!/usr/bin/env bash
# Installs what the browser tests of the web sealer need (docs/web.md): Debian's chromium and
# the pinned playwright-core (package-lock.json). Idempotent: a no-op when both are present.
# Prints nothing on success but what the installers print when they do run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: /usr/bin/chromium is missing; run as root or 'apt-get install chromium'" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

want=$(node -e 'console.log(require(process.argv[1]).packages["node_modules/playwright-core"].version)' \
  "$here/package-lock.json")
have=$(node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("") }' \
  "$here/node_modules/playwright-core/package.json")
if [[ "$have" != "$want" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
