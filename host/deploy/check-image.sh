#!/usr/bin/env bash
# Checks a built paymux image: its configuration (non-root user, HEALTHCHECK, entrypoint, no
# shell), its files (binaries, CA certificates, passwd/group, the pinned example config) and
# that paymux runs. Where containers cannot run (no namespaces or rlimits, as on the CI
# machine), the image's file system is exported and the binary run from it; the script says so.
#
#   host/deploy/check-image.sh docker|podman TAG ARCHIVE
set -euo pipefail
tool="$1" tag="$2" archive="$3"
fail() { echo "check-image: FAIL: $*" >&2; exit 1; }
say() { echo "check-image: $*"; }

user="$("$tool" image inspect "$tag" --format '{{.Config.User}}')"
[ "$user" = "65532:65532" ] || fail "image user is '$user', want 65532:65532 (non-root)"
hc="$("$tool" image inspect "$tag" --format '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' 2>/dev/null || true)"
if [ -z "$hc" ]; then
  # podman keeps HEALTHCHECK only in docker format; its OCI config has none.
  hc="$("$tool" image inspect "$tag" --format '{{.HealthCheck}}' 2>/dev/null || true)"
fi
case "$hc" in *"/opt/paymux/bin/paymux healthcheck"*) ;; *) fail "no HEALTHCHECK running paymux healthcheck (got '$hc')" ;; esac
ep="$("$tool" image inspect "$tag" --format '{{join .Config.Entrypoint " "}} {{join .Config.Cmd " "}}')"
[ "$ep" = "/opt/paymux/bin/paymux serve" ] || fail "entrypoint/cmd is '$ep'"
say "config ok: user $user, healthcheck '$hc', runs '$ep'"

work="$(mktemp -d)"
ctr=""
cleanup() { [ -n "$ctr" ] && "$tool" rm -f "$ctr" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
ctr="$("$tool" create "$tag")"
"$tool" export "$ctr" | tar -xf - -C "$work"
for f in opt/paymux/bin/paymux opt/paymux/config.example.yaml etc/ssl/certs/ca-certificates.crt etc/passwd etc/group; do
  [ -s "$work/$f" ] || fail "/$f is missing or empty"
done
grep -q '^paymux:x:65532:65532:' "$work/etc/passwd" || fail "/etc/passwd has no paymux user 65532"
for b in $(tar -tzf "$archive" | grep '/bin/paymux-provider-' | sed 's#.*/##'); do
  [ -x "$work/opt/paymux/bin/$b" ] || fail "plugin $b is missing"
done
for sh in bin/sh bin/bash usr/bin/curl usr/bin/wget; do
  [ ! -e "$work/$sh" ] || fail "/$sh is in the image (it should hold paymux only)"
done
[ -d "$work/var/lib/paymux" ] && [ -d "$work/tmp" ] || fail "/var/lib/paymux or /tmp is missing"
say "files ok: $(find "$work" -type f | wc -l) files, no shell"

# The pins of the shipped example match the binaries in the image.
pins="$("$work/opt/paymux/bin/paymux" plugins pin -n -config "$work/opt/paymux/config.example.yaml")"
echo "$pins" | sed 's/^/check-image:   /'
if echo "$pins" | grep -q 'would update'; then fail "the example's pins do not match the image's plugins"; fi

# paymux runs: in a container when this machine can run one, else from the exported files.
if out="$("$tool" run --rm --read-only --network none "$tag" version 2>&1)"; then
  say "ran in a container (read-only root):"
else
  say "containers cannot run on this machine ($(echo "$out" | tail -1)); running the image's binary from its exported file system instead:"
  out="$("$work/opt/paymux/bin/paymux" version)"
fi
echo "$out" | sed 's/^/check-image:   /'
echo "$out" | grep -q '^plugin protocol: ' || fail "paymux version did not run"
say "image $tag ok"
