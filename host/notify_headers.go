package host

import (
	"net/http"
	"slices"
	"strconv"
)

// Bounds on the request headers kept with an inbox entry (and handed to the provider). A
// wallet's notification carries a handful of short headers; anything beyond is junk that must
// not grow the inbox. The HTTP server bounds the whole header block earlier (serve's
// server.max_header_bytes, answered 431); these bound what one entry stores.
const (
	// maxNotifyHeaders bounds how many header fields are kept.
	maxNotifyHeaders = 64
	// MaxNotifyHeaderBytes bounds the bytes of names and values kept per entry.
	MaxNotifyHeaderBytes = 8 << 10
)

// HeadersDroppedHeader is added to the kept headers when some were left out, with their count,
// so that an operator reading the inbox knows the request had more.
const HeadersDroppedHeader = "Paymux-Headers-Dropped"

// inboxHeaders returns the headers of a notification to store: Content-Type first (providers
// need it to parse the body), then the others in name order, each field whole or not at all,
// while they fit in maxNotifyHeaders fields and MaxNotifyHeaderBytes bytes. The order makes
// what is kept independent of Go's map order.
func inboxHeaders(h http.Header) http.Header {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "Content-Type":
			return -1
		case b == "Content-Type":
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	kept := make(http.Header, min(len(names), maxNotifyHeaders))
	size, dropped := 0, 0
	for _, k := range names {
		n := 0
		for _, v := range h[k] {
			n += len(k) + len(v)
		}
		if len(kept) >= maxNotifyHeaders || size+n > MaxNotifyHeaderBytes {
			dropped++
			continue
		}
		kept[k] = h[k]
		size += n
	}
	if dropped > 0 {
		kept[HeadersDroppedHeader] = []string{strconv.Itoa(dropped)}
	}
	return kept
}
