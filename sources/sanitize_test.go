package sources

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanStripsTerminalEscapes(t *testing.T) {
	cases := map[string]string{
		"app-1":                               "app-1",
		"app\x1b[31m-red\x1b[0m":              "app-red",
		"evil\x1b]0;pwned\x07name":            "evilname",
		"osc-st\x1b]8;;http://x\x1b\\link":    "osc-stlink",
		"clear\x1b[2J\x1b[Hscreen":            "clearscreen",
		"dcs\x1bPqpayload\x1b\\end":           "dcsend",
		"c1\u009b31mcsi":                      "c1csi",
		"bell\x07and\x08bs":                   "bellandbs",
		"tab\there":                           "tab here",
		"line\nbreak":                         "linebreak",
		"bidi\u202eesrever":                   "bidiesrever",
		"héllo wörld ✔":                       "héllo wörld ✔",
		"trailing esc\x1b":                    "trailing esc",
		"bad utf8 \xff\xfe":                   "bad utf8 \uFFFD\uFFFD",
		"charset\x1b(0select":                 "charsetselect",
		"unterminated osc\x1b]0;title no end": "unterminated osc",
		"keypad\x1b=mode":                     "keypadmode",
		"csi with intermediate\x1b[1 qcursor": "csi with intermediatecursor",
		"del\x7fchar":                         "delchar",
		"zero width joiner ok: 👩\u200d💻":      "zero width joiner ok: 👩💻",
	}
	for in, want := range cases {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CleanText("a\nb\x1b[1m"); got != "a\nb" {
		t.Errorf("CleanText kept %q", got)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"app-1", "\x1b[31mred", "\x1b]0;t\x07", "\u009b1m", "a\nb", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		if strings.ContainsAny(out, "\x1b\x07\x00\r\n\x7f") {
			t.Fatalf("control left in %q -> %q", s, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid utf-8 out of %q", s)
		}
		for _, r := range out {
			if r >= 0x80 && r < 0xa0 {
				t.Fatalf("C1 control left in %q", out)
			}
		}
		if Clean(out) != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, Clean(out))
		}
	})
}
