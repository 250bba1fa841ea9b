package probe

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAgentTokenOnlyWithTheBearerScheme(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	h := agentHandler(&agentRounds{rounds: map[string][]Round{}}, token, nil)
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{token, http.StatusUnauthorized}, // the token without its scheme
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Bearer " + token[:31], http.StatusUnauthorized},
		{"Bearer  " + token, http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK}, // the scheme is case-insensitive (RFC 7235)
	} {
		for _, path := range []string{"/rounds", "/metrics"} {
			req := httptest.NewRequest("GET", path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("GET %s with Authorization %q: HTTP %d, want %d", path, tc.header, rec.Code, tc.want)
			}
		}
	}
}
