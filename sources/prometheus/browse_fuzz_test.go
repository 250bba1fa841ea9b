package prometheus

import "testing"

func FuzzDecodeLabelValues(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":["up","node_load1"]}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"x"}`))
	f.Add([]byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeLabelValues(b)
		if err != nil && v != nil {
			t.Fatalf("values with an error: %v", v)
		}
	})
}
