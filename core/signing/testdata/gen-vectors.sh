#!/usr/bin/env bash
# gen-vectors.sh regenerates the golden files that core/signing's tests compare Go's output with.
# Everything here is produced by tools other than the Go code under test: canonical strings by jq,
# RSA/RSA2 signatures by `openssl dgst -sign`, MD5 signatures by `openssl dgst -md5`.
#
# Inputs (committed, edited by hand):
#   vectors/<name>.json                                   a flat parameter map
#   keys/test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem          the throw-away key printed in
#                                                          alipay-crossborder.md section 4.6
#   keys/alipay-sandbox-md5-key-PUBLISHED-TEST-ONLY.txt   Alipay's published sandbox MD5 key
#                                                          (alipay-h5.md section 6.4)
# Outputs:
#   keys/test-*-DO-NOT-USE.*      throw-away keys in every format ParsePrivateKey/ParsePublicKey take
#                                 (generated only when missing: delete them to roll new ones)
#   vectors/<name>.{A,B}.txt      CanonicalA / CanonicalB of the map (no trailing newline)
#   vectors/<name>.{A,B}.{RSA,RSA2}.sig   base64 signature of that string with the 2048-bit test key
#   vectors/<name>.{A,B}.MD5.sig  md5(string + test MD5 key), lowercase hex
#   vectors/<name>.{A,B}.doc46.{RSA,RSA2}.sig    the same with the section 4.6 key
#   vectors/<name>.{A,B}.sandbox.MD5.sig         the same with the sandbox MD5 key
#
# Run from anywhere: core/signing/testdata/gen-vectors.sh (needs bash, openssl >= 1.1, jq).
set -euo pipefail
cd "$(dirname "$0")"

K=keys
umask 077

# --- keys ------------------------------------------------------------------------------------
gen_rsa() { # bits name
	local bits=$1 name=$2
	if [[ ! -f $K/$name-pkcs1-DO-NOT-USE.pem ]]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$bits" -out "$K/$name-pkcs8-DO-NOT-USE.pem" 2>/dev/null
		openssl rsa -in "$K/$name-pkcs8-DO-NOT-USE.pem" -traditional -out "$K/$name-pkcs1-DO-NOT-USE.pem" 2>/dev/null
	fi
	openssl pkcs8 -topk8 -nocrypt -in "$K/$name-pkcs1-DO-NOT-USE.pem" -out "$K/$name-pkcs8-DO-NOT-USE.pem"
	openssl rsa -in "$K/$name-pkcs1-DO-NOT-USE.pem" -pubout -out "$K/$name-public-spki.pem" 2>/dev/null
	openssl rsa -in "$K/$name-pkcs1-DO-NOT-USE.pem" -RSAPublicKey_out -out "$K/$name-public-pkcs1.pem" 2>/dev/null
}
gen_rsa 2048 test-rsa2048
gen_rsa 1024 test-rsa1024
gen_rsa 512 test-rsa512

# Bare base64 one-liners, as Alipay's key tool and portals hand them out.
oneline() { grep -v -- '-----' "$1" | tr -d '\n'; }
oneline $K/test-rsa2048-pkcs1-DO-NOT-USE.pem >$K/test-rsa2048-pkcs1-DO-NOT-USE.b64
oneline $K/test-rsa2048-pkcs8-DO-NOT-USE.pem >$K/test-rsa2048-pkcs8-DO-NOT-USE.b64
oneline $K/test-rsa2048-public-spki.pem >$K/test-rsa2048-public-spki.b64
oneline $K/test-rsa2048-public-pkcs1.pem >$K/test-rsa2048-public-pkcs1.b64

# Keys of the wrong type: EC (PKCS#8, SEC 1 and SPKI) and a certificate.
if [[ ! -f $K/test-ec-p256-pkcs8-DO-NOT-USE.pem ]]; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $K/test-ec-p256-pkcs8-DO-NOT-USE.pem
fi
openssl ec -in $K/test-ec-p256-pkcs8-DO-NOT-USE.pem -out $K/test-ec-p256-sec1-DO-NOT-USE.pem 2>/dev/null
openssl ec -in $K/test-ec-p256-pkcs8-DO-NOT-USE.pem -pubout -out $K/test-ec-p256-public-spki.pem 2>/dev/null
oneline $K/test-ec-p256-pkcs8-DO-NOT-USE.pem >$K/test-ec-p256-pkcs8-DO-NOT-USE.b64
oneline $K/test-ec-p256-public-spki.pem >$K/test-ec-p256-public-spki.b64
if [[ ! -f $K/test-rsa2048-cert.pem ]]; then
	openssl req -new -x509 -key $K/test-rsa2048-pkcs1-DO-NOT-USE.pem -subj "/CN=paymux test DO NOT USE" \
		-days 36500 -out $K/test-rsa2048-cert.pem 2>/dev/null
fi

if [[ ! -f $K/test-md5-key-DO-NOT-USE.txt ]]; then
	openssl rand -hex 16 | tr -d '\n' >$K/test-md5-key-DO-NOT-USE.txt
fi

# --- vectors ---------------------------------------------------------------------------------
# Canonical strings, written independently of the Go code: drop sign, sign_type and empty
# values, sort keys (jq sorts strings by code point, which is byte order for UTF-8), join.
canon='to_entries | map(select(.key != "sign" and .key != "sign_type" and .value != "")) | sort_by(.key)'
rsa_sig() { # key hash file
	openssl dgst "-$2" -sign "$1" "$3" | openssl base64 -A
}
md5_sig() { # keyfile file
	cat "$2" "$1" | openssl dgst -md5 -r | cut -d' ' -f1 | tr -d '\n'
}

for json in vectors/*.json; do
	base=${json%.json}
	jq -j "$canon | map(\"\(.key)=\\\"\(.value)\\\"\") | join(\"&\")" "$json" >"$base.A.txt"
	jq -j "$canon | map(\"\(.key)=\(.value)\") | join(\"&\")" "$json" >"$base.B.txt"
	for f in A B; do
		rsa_sig $K/test-rsa2048-pkcs1-DO-NOT-USE.pem sha1 "$base.$f.txt" >"$base.$f.RSA.sig"
		rsa_sig $K/test-rsa2048-pkcs1-DO-NOT-USE.pem sha256 "$base.$f.txt" >"$base.$f.RSA2.sig"
		md5_sig $K/test-md5-key-DO-NOT-USE.txt "$base.$f.txt" >"$base.$f.MD5.sig"
		rsa_sig $K/test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem sha1 "$base.$f.txt" >"$base.$f.doc46.RSA.sig"
		rsa_sig $K/test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem sha256 "$base.$f.txt" >"$base.$f.doc46.RSA2.sig"
		md5_sig $K/alipay-sandbox-md5-key-PUBLISHED-TEST-ONLY.txt "$base.$f.txt" >"$base.$f.sandbox.MD5.sig"
		# Check each signature with openssl itself before Go sees it.
		for h in sha1:RSA sha256:RSA2; do
			openssl base64 -d -A -in "$base.$f.${h#*:}.sig" >"$base.sig.bin"
			openssl dgst "-${h%%:*}" -verify $K/test-rsa2048-public-spki.pem -signature "$base.sig.bin" "$base.$f.txt" >/dev/null
		done
		rm -f "$base.sig.bin"
	done
done
echo "vectors regenerated in $(pwd)"
