#!/usr/bin/env bash
# Installs what the demo's browser test needs: Debian's chromium (when missing) and the pinned
# playwright-core from package-lock.json. playwright-core downloads no browser of its own; the
# test drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "installing Debian's chromium"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v npm >/dev/null; then
	echo "npm is missing: apt-get install -y nodejs npm" >&2
	exit 1
fi
# npm ci again only when the lock file changed since the last install.
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
