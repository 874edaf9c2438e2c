package mapi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// MaxResponseBytes bounds an XML answer of the gateway; real ones are a few KiB.
const MaxResponseBytes = 1 << 20

// Response is the gateway's XML envelope:
//
//	<alipay><is_success>T</is_success><error>…</error><request><param name="…">…</param></request>
//	<response><trade>…</trade></response><sign>…</sign><sign_type>…</sign_type></alipay>
//
// The shape inside <response> differs per service (and is UNCONFIRMED for some), so its leaf
// elements are flattened into Fields by name; the first occurrence of a name wins.
type Response struct {
	Success  bool              // is_success == T: the request was processed (not: the trade is paid)
	Error    string            // the gateway's error code when Success is false
	Request  map[string]string // the <request> echo
	Fields   map[string]string // the leaf elements under <response>, else the top-level leaves that are not envelope fields (= Signed)
	Signed   map[string]string // what the signature covers: the leaves under <response>, else the extra top-level leaves
	Sign     string
	SignType string
}

// ParseResponse decodes an XML envelope. The declared encoding may be UTF-8, GBK or any other
// charset golang.org/x/text knows. It checks structure only; VerifyResponse checks the signature.
func ParseResponse(body []byte) (*Response, error) {
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("mapi: response of %d bytes is over the %d limit", len(body), MaxResponseBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = CharsetReader
	dec.Strict = true
	r := &Response{Request: map[string]string{}, Fields: map[string]string{}}
	topLeaves := map[string]string{}
	respLeaves := map[string]string{}
	var (
		path     []string // element names from <alipay> down
		text     strings.Builder
		children []int // number of child elements of each open element
		param    string
		sawRoot  bool
		sawIsSuc bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("mapi: malformed XML response: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				if sawRoot || t.Name.Local != "alipay" {
					return nil, fmt.Errorf("mapi: XML root is <%s>, want <alipay>", t.Name.Local)
				}
				sawRoot = true
			}
			if len(children) > 0 {
				children[len(children)-1]++
			}
			path = append(path, t.Name.Local)
			children = append(children, 0)
			text.Reset()
			if len(path) > 32 {
				return nil, fmt.Errorf("mapi: XML nested too deeply")
			}
			if len(path) == 3 && path[1] == "request" && t.Name.Local == "param" {
				param = ""
				for _, a := range t.Attr {
					if a.Name.Local == "name" {
						param = a.Value
					}
				}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			name := path[len(path)-1]
			leaf := children[len(children)-1] == 0
			val := strings.TrimSpace(text.String())
			switch {
			case !leaf:
			case len(path) == 2:
				switch name {
				case "is_success":
					sawIsSuc = true
					r.Success = val == "T"
					if val != "T" && val != "F" {
						return nil, fmt.Errorf("mapi: is_success is %q, want T or F", val)
					}
				case "error":
					r.Error = val
				case "sign":
					r.Sign = val
				case "sign_type":
					r.SignType = val
				case "request", "response":
				default:
					setFirst(topLeaves, name, val)
				}
			case len(path) == 3 && path[1] == "request" && name == "param":
				if param != "" {
					setFirst(r.Request, param, val)
				}
			case len(path) >= 3 && path[1] == "response":
				setFirst(respLeaves, name, val)
			}
			path = path[:len(path)-1]
			children = children[:len(children)-1]
			text.Reset()
		}
	}
	if !sawRoot {
		return nil, fmt.Errorf("mapi: response is not an <alipay> XML document")
	}
	if !sawIsSuc {
		return nil, fmt.Errorf("mapi: response has no <is_success>")
	}
	if !r.Success && r.Error == "" {
		r.Error = "UNKNOWN_ERROR"
	}
	// Fields are exactly what the signature covers: a top-level leaf beside a signed <response>
	// is outside the signature, and read as a field it could (say, a <gmt_payment>) turn a
	// closed trade into a paid one.
	if len(respLeaves) > 0 {
		r.Signed = respLeaves
	} else {
		r.Signed = topLeaves
	}
	for k, v := range r.Signed {
		r.Fields[k] = v
	}
	return r, nil
}

func setFirst(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// CharsetReader converts a declared XML (or file) charset to UTF-8; GBK and GB2312 answers occur
// on the mapi gateway.
func CharsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("mapi: unsupported charset %q", charset)
	}
	if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8") {
		return input, nil
	}
	return enc.NewDecoder().Reader(input), nil
}

// VerifyResponse checks the envelope's signature over Signed with the account's verifier for
// the declared sign_type. An envelope without a signature passes unless required (is_success=F
// answers are often unsigned; see Settings.RequireResponseSign).
func VerifyResponse(s *Settings, r *Response, required bool) error {
	if r.Sign == "" {
		if required && r.Success && len(r.Signed) > 0 {
			return core.Errorf(core.EUNAUTHORIZED, "gateway response carries no signature")
		}
		return nil
	}
	st := r.SignType
	if st == "" {
		st = string(s.SignType)
	}
	v, err := s.Verifier(st)
	if err != nil {
		return err
	}
	return v.Verify(signing.CanonicalB(r.Signed), r.Sign)
}
