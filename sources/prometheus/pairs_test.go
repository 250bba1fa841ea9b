package prometheus

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/prometheus/common/model"
)

// sameAsModel checks decodePairs against []model.SamplePair read by
// encoding/json: the same pairs, or an error from both.
func sameAsModel(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		return // the stream's decoder hands over valid JSON only
	}
	var want []model.SamplePair
	werr := json.Unmarshal(b, &want)
	got, err := decodePairs(b)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%q: error %v, the model's %v", b, err, werr)
	}
	if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%q: %v, the model reads %v", b, got, want)
	}
	var wantOne model.SamplePair
	werr = json.Unmarshal(b, &wantOne)
	one, err := decodePair(b)
	if (err != nil) != (werr != nil) || err == nil && fmt.Sprint(one) != fmt.Sprint(wantOne) {
		t.Fatalf("%q: one pair %v (%v), the model's %v (%v)", b, one, err, wantOne, werr)
	}
}

func TestPairsReadAsTheModelReadsThem(t *testing.T) {
	for _, s := range []string{
		`[]`, ` [ ] `, `null`, `[[1796683883,"72.2736"]]`, `[[1435781451.781,"1"],[1435781466.781,"NaN"],[1,"+Inf"],[2,"-Inf"]]`,
		`[ [ 1 , "2" ] , [3,"4e3"] ]`, `[[-0.1,"1"]]`, `[[1.2345,"1"]]`, `[[1,"1\u0030"]]`, `[[1,"x"]]`, `[[1,2]]`, `[["1","2"]]`,
		`[[1,"1",3]]`, `[[1]]`, `[1,"1"]`, `[[1e3,"1"]]`, `{"a":1}`, `"x"`, `[[1,"1"],null]`, `[[1.5.5,"1"]]`,
	} {
		sameAsModel(t, []byte(s))
	}
	// the fast reader does read Prometheus's own shape
	if _, ok := fastPairs([]byte(`[[1796683883,"72.2736"],[1796683893.5,"NaN"]]`)); !ok {
		t.Errorf("Prometheus's values left to encoding/json")
	}
}

func FuzzPairsReadAsTheModelReadsThem(f *testing.F) {
	for _, s := range []string{`[[1796683883,"72.2736"],[1796683893.5,"NaN"]]`, `[[1,"1\n"]]`, `[]`, `[[1,"1"]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsModel(t, b) })
}
