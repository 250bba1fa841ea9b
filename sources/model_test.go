package sources

import "testing"

func TestLayerDepthFollowsLayers(t *testing.T) {
	for i, l := range Layers {
		if d := l.Depth(); d != i {
			t.Errorf("%s: depth %d, want %d (its place in Layers)", l, d, i)
		}
	}
	if d := LayerUnknown.Depth(); d != len(Layers) {
		t.Errorf("unknown layer: depth %d, want %d", d, len(Layers))
	}
}

func TestAPartIsAMeasureOfItsOwn(t *testing.T) {
	m, ok := ParseMeasure("latency, part")
	if !ok || m != MeasureLatency|MeasurePart || m.String() != "latency,part" {
		t.Fatalf("%v %v", m, ok)
	}
}
