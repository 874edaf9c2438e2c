#!/usr/bin/env bash
# gen-forms.sh writes the golden notification bodies that DecodeForm's tests decode. For each
# forms/<name>.json (the expected decoded fields, UTF-8) it writes forms/<name>.form: the fields in
# file order, each value converted to the charset named by its `_input_charset` field with iconv,
# then form-encoded byte by byte (unreserved bytes kept, space as '+', everything else %XX) the
# way the wallet's Java servlet container does. Nothing here uses the Go code under test.
# Run from anywhere: core/notify/testdata/gen-forms.sh (needs bash, jq, iconv, xxd).
set -euo pipefail
cd "$(dirname "$0")"

urlenc() { # charset; text on stdin -> form-encoded bytes on stdout
	iconv -f UTF-8 -t "$1" | xxd -p -c1 | while read -r h; do
		case $h in
		2[dDeE] | 3[0-9] | 4[1-9a-fA-F] | 5[0-9aA] | 5[fF] | 6[1-9a-fA-F] | 7[0-9aA]) printf "\\x$h" ;;
		20) printf '+' ;;
		*) printf '%%%s' "$(echo "$h" | tr a-f A-F)" ;;
		esac
	done
}

for json in forms/*.json; do
	form=${json%.json}.form
	cs=$(jq -r '._input_charset // "utf-8"' "$json")
	n=$(jq 'length' "$json")
	: >"$form"
	for ((i = 0; i < n; i++)); do
		[[ $i -gt 0 ]] && printf '&' >>"$form"
		jq -j "to_entries[$i].key" "$json" | urlenc "$cs" >>"$form"
		printf '=' >>"$form"
		jq -j "to_entries[$i].value" "$json" | urlenc "$cs" >>"$form"
	done
done
echo "forms regenerated in $(pwd)/forms"
