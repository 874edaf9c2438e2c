#!/usr/bin/env bash
# gen-vectors.sh regenerates the golden AMS signatures that providers/antom and
# providers/antomsim compare their output with. Everything here is made by openssl and jq, not
# by the Go code under test: the signed content by printf, SHA256withRSA by `openssl dgst
# -sha256 -sign`, the header's percent-encoding by jq's @uri.
#
# Inputs (committed, edited by hand): vectors/<name>.body (the exact body bytes, no trailing
# newline) and vectors/<name>.meta (three lines: path, client id, time). The keys are the
# simulator's committed throw-away test keys: requests are signed with the merchant's,
# responses and notifications with the simulator's "Antom" key.
# Outputs: vectors/<name>.content (the signed bytes), vectors/<name>.sig (standard base64),
# vectors/<name>.header (the Signature header value).
#
# Run from anywhere: providers/antom/testdata/gen-vectors.sh (needs bash, openssl, jq).
set -euo pipefail
cd "$(dirname "$0")"
K=../../antomsim/testkeys
for meta in vectors/*.meta; do
	base=${meta%.meta}
	name=$(basename "$base")
	{ read -r path; read -r client; read -r time; } <"$meta"
	case $name in
	request-*) key=$K/test-antom-merchant-private-pkcs8-DO-NOT-USE.pem pub=$K/test-antom-merchant-public-DO-NOT-USE.pem ;;
	*) key=$K/test-antom-private-DO-NOT-USE.pem pub=$K/test-antom-public-DO-NOT-USE.pem ;;
	esac
	{ printf 'POST %s\n%s.%s.' "$path" "$client" "$time"; cat "$base.body"; } >"$base.content"
	openssl dgst -sha256 -sign "$key" "$base.content" | openssl base64 -A >"$base.sig"
	# Check with openssl itself before Go sees it.
	openssl base64 -d -A -in "$base.sig" >"$base.bin"
	openssl dgst -sha256 -verify "$pub" -signature "$base.bin" "$base.content" >/dev/null
	rm -f "$base.bin"
	printf 'algorithm=RSA256,keyVersion=1,signature=%s' "$(jq -rRj @uri <"$base.sig")" >"$base.header"
done
echo "vectors regenerated in $(pwd)/vectors"
