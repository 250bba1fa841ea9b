package prometheus

import (
	"encoding/json"

	"github.com/prometheus/common/model"
)

// A range query's answer is mostly its values: [[1796683883,"72.27"],…]
// for every series. model.SamplePair reads each pair through
// json.Unmarshal (3.6 million calls for an hour of 10,000 series, most of
// a backfill's time), so the pairs are read here by hand: the timestamp
// and the quoted value are handed to model.Time's and model.SampleValue's
// own UnmarshalJSON, so a value means what it means to the model. Any
// shape this reader does not expect (escapes, a missing comma, null) is
// left to json.Unmarshal of the whole array, errors and all.

// decodePairs reads a JSON array of sample pairs as []model.SamplePair
// does; a nil or empty raw (no "values" key) is nil.
func decodePairs(raw json.RawMessage) ([]model.SamplePair, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if out, ok := fastPairs(raw); ok {
		return out, nil
	}
	var out []model.SamplePair
	err := json.Unmarshal(raw, &out)
	return out, err
}

// decodePair reads one sample pair as model.SamplePair does.
func decodePair(raw json.RawMessage) (model.SamplePair, error) {
	var p model.SamplePair
	if i, ok := fastPair(raw, skipSpace(raw, 0), &p); ok && skipSpace(raw, i) == len(raw) {
		return p, nil
	}
	err := json.Unmarshal(raw, &p)
	return p, err
}

// fastPairs reads b as an array of pairs; ok is false when b is not in
// the shape Prometheus writes.
func fastPairs(b []byte) ([]model.SamplePair, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	// pairs are at least 7 bytes ([1,"1"],): room for all of them at once
	out := make([]model.SamplePair, 0, len(b)/16+1)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, skipSpace(b, i+1) == len(b)
	}
	for {
		var p model.SamplePair
		var ok bool
		if i, ok = fastPair(b, i, &p); !ok {
			return nil, false
		}
		out = append(out, p)
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// fastPair reads [number,"string"] at b[i:] into p and returns the index
// after it.
func fastPair(b []byte, i int, p *model.SamplePair) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	start := i
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.' || b[i] == '-') {
		i++
	}
	if i == start || p.Timestamp.UnmarshalJSON(b[start:i]) != nil {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ',' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	start = i
	i++
	for i < len(b) && b[i] != '"' {
		if b[i] == '\\' || b[i] < 0x20 {
			return 0, false // escapes and control characters: json's to read
		}
		i++
	}
	if i >= len(b) {
		return 0, false
	}
	i++
	if p.Value.UnmarshalJSON(b[start:i]) != nil {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ']' {
		return 0, false
	}
	return i + 1, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
