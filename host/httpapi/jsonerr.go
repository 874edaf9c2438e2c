package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// decodeError turns encoding/json's refusal of body (decoded into a value of type t) into an
// EINVALID error that says what is wrong without echoing the body and, when the fault is in
// one field, names it as the param ("amount.value", "metadata.order", "expires_at"):
//
//   - malformed JSON: the byte offset; no param (no field can be named reliably);
//   - a value of the wrong type: the field and the type it must have;
//   - an unknown field: its path (encoding/json names only the last key);
//   - a value a type's own UnmarshalJSON refused (expires_at's time): the field.
//
// The path is found by fieldAt, which walks body along t; it runs only on this error path.
func decodeError(body []byte, t reflect.Type, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return core.Errorf(core.EINVALID, "request body is not valid: malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return core.Errorf(core.EINVALID, "request body is not valid: unexpected end of JSON")
	}
	param, ft := fieldAt(body, t, "")
	switch {
	case errors.As(err, &te):
		if param == "" {
			param = te.Field
		}
		if param == "" {
			return core.Errorf(core.EINVALID, "request body is not valid: it must be a JSON object, not %s", jsonKind(te.Value))
		}
		return core.ParamErrorf(core.EINVALID, param, "request body is not valid: field %s must be %s, not %s",
			strconv.Quote(param), typeWord(te.Type), jsonKind(te.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if param == "" {
			return core.Errorf(core.EINVALID, "request body is not valid: it has an unknown field")
		}
		return core.ParamErrorf(core.EINVALID, param, "request body is not valid: unknown field %s", strconv.Quote(param))
	case param != "":
		for ft != nil && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft == reflect.TypeFor[time.Time]() {
			return core.ParamErrorf(core.EINVALID, param, "request body is not valid: field %s must be an RFC 3339 time such as 2026-12-01T00:00:00Z", strconv.Quote(param))
		}
		return core.ParamErrorf(core.EINVALID, param, "request body is not valid: field %s has a value of the wrong form", strconv.Quote(param))
	}
	return core.Errorf(core.EINVALID, "request body is not valid JSON for this request")
}

// fieldAt returns the path (under prefix) of the first value in data, in document order, that
// does not decode strictly into its place in t: a key t has no field for, or a value its field
// refuses; and the Go type of that place (nil for an unknown key). It returns "" when it finds
// none. data is known to be syntactically valid (encoding/json checks the whole value first).
func fieldAt(data []byte, t reflect.Type, prefix string) (string, reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	ti := infoOf(t)
	if ti == nil || (ti.fields == nil && ti.elem == nil) {
		return "", nil // a scalar, or a type with its own UnmarshalJSON: the caller's place is the answer
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return "", nil
	}
	switch tok {
	case json.Delim('{'):
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			return "", nil
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", nil
			}
			key, _ := kt.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return "", nil
			}
			path := prefix + key
			vt := ti.elem
			if ti.fields != nil {
				vt = fieldType(ti.fields, key)
				if vt == nil {
					return path, nil
				}
			}
			if strictDecode(raw, vt) != nil {
				if deeper, dt := fieldAt(raw, vt, path+"."); deeper != "" {
					return deeper, dt
				}
				return path, vt
			}
		}
	case json.Delim('['):
		if ti.elem == nil || t.Kind() == reflect.Map {
			return "", nil
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return "", nil
			}
			if strictDecode(raw, ti.elem) != nil {
				p := strings.TrimSuffix(prefix, ".")
				if deeper, dt := fieldAt(raw, ti.elem, prefix); deeper != "" {
					return deeper, dt
				}
				return p, ti.elem
			}
		}
	}
	return "", nil
}

// fieldType is the type of the struct field named key, matched as encoding/json matches it
// (exactly, else ignoring case); nil when there is none.
func fieldType(f *structFields, key string) reflect.Type {
	if ft, ok := f.types[key]; ok {
		return ft
	}
	for _, name := range f.names {
		if equalFold(name, []byte(key)) {
			return f.types[name]
		}
	}
	return nil
}

func strictDecode(raw []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(reflect.New(t).Interface())
}

// typeWord says in words what a JSON value for Go type t must be.
func typeWord(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "an object of strings"
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "of another type"
}

// jsonKind names the kind of JSON value encoding/json found (UnmarshalTypeError.Value: "string",
// "number", "number 1.5", "bool", "array", "object"), without the value itself.
func jsonKind(v string) string {
	switch k, _, _ := strings.Cut(v, " "); k {
	case "string":
		return "a string"
	case "number":
		if v != "number" {
			return "a number of that form" // "number 1.5" into an integer, "number -1" into unsigned
		}
		return "a number"
	case "bool":
		return "true or false"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return "another kind of value"
}
