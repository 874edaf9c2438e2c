package signing

import "net/url"

// OrderString builds the complete mobile.securitypay.pay order string handed to the wallet SDK:
// the Format A pre-sign string, then `&sign="<url-encoded signature>"&sign_type="<type>"`.
// Only the signature is URL-encoded (its `+`, `/` and `=`); the values stay raw because the
// wallet verifies the literal text before `&sign=`.
func OrderString(params map[string]string, s Signer) (string, error) {
	pre := CanonicalA(params)
	sig, err := s.Sign(pre)
	if err != nil {
		return "", err
	}
	sig = url.QueryEscape(sig)
	t := string(s.Type())
	n := len(pre) + len(`&sign=""&sign_type=""`) + len(sig) + len(t)
	b := make([]byte, 0, n)
	b = append(b, pre...)
	b = append(b, `&sign="`...)
	b = append(b, sig...)
	b = append(b, `"&sign_type="`...)
	b = append(b, t...)
	b = append(b, '"')
	return string(b), nil
}
