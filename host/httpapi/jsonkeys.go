package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
)

// checkKeys refuses a JSON document (already decoded without error by encoding/json, so known
// to be valid) in which an object has the same key twice, or, where the object decodes into a
// struct, a key that is not exactly one of the struct's field names but equals one when case
// is ignored. encoding/json takes the last of duplicate keys and matches field names without
// regard to case, so such a body can mean one thing to paymux and another to a proxy, a WAF or
// the merchant's own logs ({"amount": ..., "Amount": ...}). Map keys (provider_extras, result)
// may differ in case; they must not repeat.
//
// It is one pass over the bytes with no allocation for ordinary bodies (no escaped keys, at
// most 16 keys per object; the struct's field names are looked up once per type): BenchmarkDecodeCreatePayment measures it against the decode.
func checkKeys(data []byte, t reflect.Type) error {
	s := keyScanner{data: data}
	return s.value(t)
}

type keyScanner struct {
	data []byte
	i    int
	// path holds the keys from the root to the object being scanned (depth of them; keys
	// deeper than len(path) are not kept), so that an error names the whole path as its param
	// without the scan allocating.
	path  [maxParamDepth][]byte
	depth int
}

const maxParamDepth = 8

// param is the dotted path of key in the object being scanned ("amount.value",
// "metadata.order"), the param of an error about it. Array elements add nothing, as in
// encoding/json's field paths. Empty when the object is nested deeper than maxParamDepth.
func (s *keyScanner) param(key []byte) string {
	if s.depth > len(s.path) {
		return ""
	}
	var b strings.Builder
	for _, k := range s.path[:s.depth] {
		b.Write(k)
		b.WriteByte('.')
	}
	b.Write(key)
	return b.String()
}

func (s *keyScanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value checks the value at s.i, whose Go type is t (nil: unknown or decoded by its own
// UnmarshalJSON, so only duplicates are refused below it).
func (s *keyScanner) value(t reflect.Type) error {
	s.skipSpace()
	if s.i >= len(s.data) {
		return nil
	}
	ti := infoOf(t)
	switch s.data[s.i] {
	case '{':
		return s.object(ti)
	case '[':
		var elem reflect.Type
		if ti != nil {
			elem = ti.elem
		}
		s.i++
		for {
			s.skipSpace()
			if s.i < len(s.data) && s.data[s.i] == ']' {
				s.i++
				return nil
			}
			if err := s.value(elem); err != nil {
				return err
			}
			s.skipSpace()
			if s.i < len(s.data) && s.data[s.i] == ',' {
				s.i++
			}
		}
	case '"':
		s.str()
		return nil
	default:
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			s.i++
		}
		return nil
	}
}

func (s *keyScanner) object(ti *typeInfo) error {
	var fields *structFields
	var elem reflect.Type
	if ti != nil {
		fields, elem = ti.fields, ti.elem
	}
	var buf [16][]byte
	seen := buf[:0]
	s.i++ // '{'
	for {
		s.skipSpace()
		if s.i >= len(s.data) || s.data[s.i] == '}' {
			s.i++
			return nil
		}
		key := s.key()
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return core.ParamErrorf(core.EINVALID, s.param(key), "request body has the key %s more than once in one object", quoteKey(key))
			}
		}
		seen = append(seen, key)
		vt := elem
		if fields != nil {
			ft, exact := fields.types[string(key)]
			if !exact {
				for _, name := range fields.names {
					if equalFold(name, key) {
						return core.ParamErrorf(core.EINVALID, s.param(key), "request body has the key %s: keys are case-sensitive, the field is %q", quoteKey(key), name)
					}
				}
			}
			vt = ft
		}
		s.skipSpace()
		s.i++ // ':'
		if s.depth < len(s.path) {
			s.path[s.depth] = key
		}
		s.depth++
		err := s.value(vt)
		s.depth--
		if err != nil {
			return err
		}
		s.skipSpace()
		if s.i < len(s.data) && s.data[s.i] == ',' {
			s.i++
		}
	}
}

// key reads the string at s.i. Without escapes it is a slice of the body itself (no copy);
// with escapes it is unquoted by encoding/json.
func (s *keyScanner) key() []byte {
	start := s.i
	escaped := s.str()
	raw := s.data[start:s.i]
	if !escaped {
		return raw[1 : len(raw)-1]
	}
	var out string
	if json.Unmarshal(raw, &out) != nil {
		return raw
	}
	return []byte(out)
}

// equalFold reports whether key equals name ignoring case, as encoding/json matches field
// names (it folds Unicode too: the Kelvin sign matches k).
func equalFold(name string, key []byte) bool {
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.EqualFold(name, string(key))
	}
	if len(name) != len(key) {
		return false
	}
	for i := range len(key) {
		a, b := name[i], key[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// str moves past the string at s.i and reports whether it had escapes.
func (s *keyScanner) str() (escaped bool) {
	s.i++ // opening quote
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			s.i++
			return escaped
		}
		s.i++
	}
	return escaped
}

// quoteKey quotes a key from the request for the error message, cut to a sane length.
func quoteKey(key []byte) string {
	k := string(key)
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return strconv.Quote(k)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// typeInfo is what the scanner needs of a Go type, worked out once per type: the struct's
// fields, or the element type of a map, slice or array. A type with its own UnmarshalJSON has
// none (only duplicates are refused below it).
type typeInfo struct {
	fields *structFields
	elem   reflect.Type
}

// structFields are the JSON names of a struct's fields and their types.
type structFields struct {
	names []string
	types map[string]reflect.Type
}

var typeCache sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if t == nil {
		return nil
	}
	if ti, ok := typeCache.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if !base.Implements(unmarshalerType) && !reflect.PointerTo(base).Implements(unmarshalerType) {
		switch base.Kind() {
		case reflect.Struct:
			ti.fields = &structFields{types: map[string]reflect.Type{}}
			addFields(ti.fields, base)
		case reflect.Map, reflect.Slice, reflect.Array:
			ti.elem = base.Elem()
		}
	}
	typeCache.Store(t, ti)
	return ti
}

func addFields(f *structFields, t reflect.Type) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(f, ft)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.names = append(f.names, name)
		f.types[name] = sf.Type
	}
}
