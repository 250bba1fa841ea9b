package aws

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opsview/opsview/sources/internal/bounded"
)

// DefaultMaxBytes bounds every feed read: the real current-events feed is a
// few KB and all.rss about 72 KB, so 8 MiB leaves room for a very bad day
// and still stops a runaway body.
const DefaultMaxBytes = 8 << 20

// ErrTooLarge is what a too-large answer's error wraps.
var ErrTooLarge = bounded.ErrTooLarge

// toUTF8 decodes a feed body by its byte-order mark: the live
// current-events endpoint answers in UTF-16 big-endian with a BOM
// (Content-Type application/json;charset=utf-16); services.json starts with
// a UTF-8 BOM. Without a BOM the body is taken as UTF-8, unless the
// content type says UTF-16 (then big-endian, as RFC 2781 says).
func toUTF8(data []byte, contentType string) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], nil
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], true)
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return decodeUTF16(data[2:], false)
	case strings.Contains(strings.ToLower(contentType), "utf-16"):
		return decodeUTF16(data, !strings.Contains(strings.ToLower(contentType), "utf-16le"))
	}
	return data, nil
}

func decodeUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("UTF-16 body with an odd number of bytes (%d): truncated", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	runes := utf16.Decode(u)
	out := make([]byte, 0, len(runes))
	for _, r := range runes {
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// looksLikeHTML reports whether a body that should be JSON or RSS is an
// HTML page (a proxy's error page, a captive portal, a moved dashboard).
func looksLikeHTML(data []byte, contentType string) bool {
	if strings.Contains(strings.ToLower(contentType), "text/html") {
		return true
	}
	head := bytes.TrimLeft(data, " \t\r\n")
	if len(head) > 512 {
		head = head[:512]
	}
	l := bytes.ToLower(head)
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html")) ||
		(bytes.HasPrefix(l, []byte("<")) && bytes.Contains(l, []byte("<html")))
}
