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
