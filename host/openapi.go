package host

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the REST API (host/openapi.yaml), served at
// GET /openapi.yaml and checked against every response in the tests.
//
//go:embed openapi.yaml
var OpenAPI []byte
