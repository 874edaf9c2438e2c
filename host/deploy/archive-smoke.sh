#!/usr/bin/env bash
# Starts paymux from a release archive alone, as docs/operations.md tells an operator to: the
# archive unpacked elsewhere, an environment without Go or the repository, PostgreSQL from
# PAYMUX_TEST_POSTGRES_DSN in a schema of its own (created and dropped with psql), the shipped
# example's pins. Checks version, config check -plugins, migrate up/status, serve, healthcheck,
# an authenticated API call and a clean stop. Without PostgreSQL or psql it says SKIPPED and
# uses SQLite.
#
#   host/deploy/archive-smoke.sh [VERSION]   (make dist-check, after make dist)
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${1:-$(git describe --always --dirty 2>/dev/null || echo dev)}"
archive="$PWD/dist/paymux-$version-linux-$(go env GOARCH).tar.gz"
[ -f "$archive" ] || { echo "archive-smoke: $archive is missing; run make dist first" >&2; exit 1; }
say() { echo "archive-smoke: $*"; }
work="$(mktemp -d)"
serve_pid="" schema=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -n "$schema" ] && psql -q "$PAYMUX_TEST_POSTGRES_DSN" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
tar -xzf "$archive" -C "$work"
root="$work/paymux-$version-linux-$(go env GOARCH)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# The operator's config: the shipped example, store and listen address from the environment.
cfg="$root/paymux.yaml"
sed -e 's#^  listen: 127.0.0.1:8080#  listen: ${PAYMUX_LISTEN}#' \
    -e 's#^  driver: sqlite#  driver: ${PAYMUX_STORE_DRIVER}#' \
    -e 's#^  dsn: ./paymux.db#  dsn: ${PAYMUX_STORE_DSN}#' "$root/config.example.yaml" > "$cfg"
driver=sqlite dsn="$work/paymux.db"
if [ -n "${PAYMUX_TEST_POSTGRES_DSN:-}" ] && command -v psql >/dev/null 2>&1; then
  schema="paymux_archive_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql -q "$PAYMUX_TEST_POSTGRES_DSN" -c "CREATE SCHEMA $schema" >/dev/null
  case "$PAYMUX_TEST_POSTGRES_DSN" in *\?*) sep='&' ;; *) sep='?' ;; esac
  driver=postgres dsn="$PAYMUX_TEST_POSTGRES_DSN${sep}search_path=$schema"
  say "PostgreSQL, schema $schema"
else
  say "SKIPPED PostgreSQL (PAYMUX_TEST_POSTGRES_DSN or psql missing): using SQLite"
fi

# No Go, no repository: a bare environment and the archive's directory.
bare=(env -i HOME="$work" PATH=/usr/bin:/bin PAYMUX_CONFIG="$cfg" PAYMUX_LISTEN="127.0.0.1:$port"
  PAYMUX_STORE_DRIVER="$driver" PAYMUX_STORE_DSN="$dsn")
run() { (cd "$root" && exec "${bare[@]}" "$@"); }
run sh -c '! command -v go' >/dev/null || { echo "archive-smoke: go is on the bare PATH" >&2; exit 1; }
run ./bin/paymux version
run ./bin/paymux config check -plugins
run ./bin/paymux migrate up
run ./bin/paymux migrate status | grep -q 'up to date'
(cd "$root" && exec "${bare[@]}" ./bin/paymux serve) > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do
  run ./bin/paymux healthcheck >/dev/null 2>&1 && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; echo "archive-smoke: serve exited" >&2; exit 1; }
  sleep 0.2
done
run ./bin/paymux healthcheck
code="$(curl -s -o "$work/methods.json" -w '%{http_code}' -H 'Authorization: Bearer demo-api-key-DO-NOT-USE-IN-PRODUCTION' \
  "http://127.0.0.1:$port/v1/methods?region=HK&currency=HKD&amount=8800")"
[ "$code" = 200 ] && grep -q alipayhk "$work/methods.json" || { cat "$work/methods.json"; echo "archive-smoke: /v1/methods answered $code" >&2; exit 1; }
kill -TERM "$serve_pid"; wait "$serve_pid" || { cat "$work/serve.log"; echo "archive-smoke: serve did not stop cleanly" >&2; exit 1; }
serve_pid=""
say "ok: $(basename "$archive") served on $driver from $root without Go"
