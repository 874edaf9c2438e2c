#!/usr/bin/env bash
# Builds the container image from dist/ (make dist) with docker or podman, whichever works here,
# then checks it (check-image.sh). Prints plainly and exits 0 when no container tool can build
# here, unless REQUIRE_IMAGE=1.
#
#   host/deploy/image.sh [VERSION]   (make image; ARCH=arm64 for the arm64 archive)
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${1:-$(git describe --always --dirty 2>/dev/null || echo dev)}"
arch="${ARCH:-$(go env GOARCH)}"
archive="dist/paymux-$version-linux-$arch.tar.gz"
tag="paymux:$version"
[ -f "$archive" ] || { echo "image: $archive is missing; run make dist first" >&2; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/paymux" "$ctx/empty"
tar -xzf "$archive" -C "$ctx/paymux" --strip-components=1
ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  [ -s "$f" ] && { ca="$f"; break; }
done
[ -n "$ca" ] || { echo "image: no CA certificate bundle on this machine (Debian: apt-get install ca-certificates)" >&2; exit 1; }
cp "$ca" "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\npaymux:x:65532:65532:paymux:/var/lib/paymux:/sbin/nologin\n' > "$ctx/passwd"
printf 'root:x:0:\npaymux:x:65532:\n' > "$ctx/group"
cp host/deploy/Dockerfile "$ctx/Dockerfile"

built=""
for tool in docker podman; do
  command -v "$tool" >/dev/null 2>&1 || continue
  echo "image: building $tag with $tool"
  # podman writes OCI images by default, which have no HEALTHCHECK: ask for the docker format.
  fmt=(); [ "$tool" = podman ] && fmt=(--format docker)
  if "$tool" build "${fmt[@]}" --platform "linux/$arch" -t "$tag" -f "$ctx/Dockerfile" "$ctx"; then
    built="$tool"; break
  fi
  echo "image: $tool could not build here" >&2
done
if [ -z "$built" ]; then
  echo "image: NOT BUILT: neither docker nor podman can build images on this machine." >&2
  [ "${REQUIRE_IMAGE:-0}" = 1 ] && exit 1
  exit 0
fi
host/deploy/check-image.sh "$built" "$tag" "$archive"
