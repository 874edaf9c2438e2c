#!/usr/bin/env bash
# Builds the release archives: static binaries (the host and every plugin under plugins/*/)
# for each platform, the example config with the plugins' SHA-256 pins filled in, the
# simulator's test keys it names, the deployment files and the docs; then dist/SHA256SUMS.
#
#   host/deploy/dist.sh [VERSION]         (make dist; PLATFORMS="linux/amd64" limits the platforms)
#
# Archives are reproducible for a commit: sorted entries, fixed owner, mtime of the commit.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${1:-$(git describe --always --dirty 2>/dev/null || echo dev)}"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
platforms="${PLATFORMS:-linux/amd64 linux/arm64}"
epoch="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
out="$PWD/dist"
ldflags="-s -w -X main.version=$version -X main.commit=$commit"

rm -rf "$out"
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# The host's own paymux pins the staged plugins (hashing is the same on every platform).
native="$stage/native-paymux"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$native" ./host/cmd/paymux

for platform in $platforms; do
  os="${platform%/*}" arch="${platform#*/}"
  name="paymux-$version-$os-$arch"
  root="$stage/$name"
  mkdir -p "$root/bin" "$root/testkeys" "$root/deploy" "$root/docs"
  echo "dist: $name"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -ldflags "$ldflags" -o "$root/bin/paymux" ./host/cmd/paymux
  for main in plugins/*/main.go; do
    d="$(dirname "$main")"
    CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -ldflags "$ldflags" -o "$root/bin/paymux-provider-$(basename "$d")" "./$d"
  done
  # Static: no program interpreter (dynamic loader) in any binary.
  for b in "$root"/bin/*; do
    if LC_ALL=C readelf -l "$b" 2>/dev/null | grep -q 'Requesting program interpreter'; then
      echo "dist: $b is dynamically linked" >&2; exit 1
    fi
  done
  # The example with the test keys beside it (testkeys/) and the plugins pinned.
  { printf '# Shipped in the paymux %s release archive (%s/%s): the plugins below are pinned to this\n' "$version" "$os" "$arch"
    printf "# archive's bin/; relative paths are relative to this file. Install: docs/operations.md.\n#\n"
    sed -E 's#providers/(mapisim|antomsim)/testkeys/#testkeys/#g' config.example.yaml; } > "$root/config.example.yaml"
  # Each simulator keeps its own test keys; the archive flattens them into one testkeys/.
  for k in $(grep -o 'testkeys/[A-Za-z0-9_.-]*[A-Za-z0-9]' "$root/config.example.yaml" | sort -u); do
    src=""
    for d in providers/mapisim providers/antomsim; do [ -e "$d/$k" ] && src="$d/$k"; done
    [ -n "$src" ] || { echo "dist: the example names $k, found in no simulator's testkeys/" >&2; exit 1; }
    cp "$src" "$root/$k"
  done
  "$native" plugins pin -config "$root/config.example.yaml" >/dev/null
  if grep -v '^ *#' "$root/config.example.yaml" | grep -q '"0\{64\}"'; then
    echo "dist: a plugin of the example is still unpinned" >&2; exit 1
  fi
  cp host/deploy/paymux.service host/deploy/Dockerfile "$root/deploy/"
  cp README.md LICENSE CHANGELOG.md SECURITY.md "$root/"
  cp docs/*.md "$root/docs/"
  cp host/openapi.yaml "$root/docs/"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$name" | gzip -n -9 > "$out/$name.tar.gz"
done
(cd "$out" && sha256sum -- *.tar.gz > SHA256SUMS)
echo "dist: $(cd "$out" && ls)"
cat "$out/SHA256SUMS"
