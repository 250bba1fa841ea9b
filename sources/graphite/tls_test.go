package graphite

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"testing"
)

func writePEM(t *testing.T, path string, srv *httptest.Server) {
	t.Helper()
	cert := srv.Certificate()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}
