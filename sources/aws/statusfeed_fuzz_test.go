package aws

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func noEscapes(t *testing.T, what string, ss ...string) {
	for _, s := range ss {
		if strings.ContainsRune(s, 0x1b) || strings.ContainsRune(s, 0x9b) {
			t.Fatalf("%s: escape left in %q", what, s)
		}
	}
}

func FuzzParseCurrentEvents(f *testing.F) {
	for _, name := range []string{"currentevents.json", "currentevents.utf16be-bom.json", "status/ce-open.json", "status/ce-update.json", "status/ce-resolved.json", "status/ce-empty.json"} {
		f.Add(readTestdata(f, name), "application/json")
	}
	f.Add([]byte(`[{"arn":"x","status":"\u001b[31m3","service":"\u001b]0;x\u0007ec2-us-east-1"}]`), "application/json;charset=utf-16")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		evs, err := ParseCurrentEvents(body, ct)
		if err != nil {
			return
		}
		for _, e := range evs {
			noEscapes(t, "current events", e.ARN, e.Service, e.ServiceName, e.RegionName, e.Summary)
			for k, v := range e.Impacted {
				noEscapes(t, "impacted", k, v.Name)
			}
			for _, l := range e.Log {
				noEscapes(t, "log", l.Summary, l.Message)
			}
			if e.Status < 0 || e.Status > StatusDisruption {
				t.Fatalf("status %d out of range", e.Status)
			}
			_ = e.Start()
			_ = e.Updated()
			_ = e.Worst()
		}
	})
}

func FuzzParseRSS(f *testing.F) {
	for _, name := range []string{"all.rss", "status/ec2-us-east-1.open.rss", "status/ec2-us-east-1.update.rss", "status/ec2-us-east-1.resolved.rss", "status/ec2-us-east-1.empty.rss"} {
		f.Add(readTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, _, err := ParseRSS(body, "application/rss+xml", "ec2-us-east-1")
		if err != nil {
			return
		}
		for _, it := range items {
			noEscapes(t, "rss", it.Key, it.Title, it.Text, it.GUID)
			if it.At.IsZero() {
				t.Fatal("item without a time")
			}
		}
		for _, th := range Threads(items) {
			if len(th.Items) == 0 {
				t.Fatal("empty thread")
			}
			_ = th.Current()
		}
	})
}

// bigCurrentEvents repeats the capture's events to n entries.
func bigCurrentEvents(b *testing.B, n int) []byte {
	evs := readTestdata(b, "status/ce-update.json")
	one := bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(evs), []byte("[")), []byte("]"))
	var buf bytes.Buffer
	buf.WriteString("[")
	for i := range n {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.Write(bytes.Replace(one, []byte("0B5D2E61F94"), fmt.Appendf(nil, "%011d", i), 1))
	}
	buf.WriteString("]")
	return buf.Bytes()
}

func BenchmarkParseCurrentEvents500(b *testing.B) {
	body := bigCurrentEvents(b, 500)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		evs, err := ParseCurrentEvents(body, "application/json")
		if err != nil || len(evs) != 500 {
			b.Fatal(len(evs), err)
		}
	}
}

func BenchmarkParseRSS500(b *testing.B) {
	all := readTestdata(b, "all.rss")
	start := bytes.Index(all, []byte("<item>"))
	end := bytes.LastIndex(all, []byte("</item>")) + len("</item>")
	var buf bytes.Buffer
	buf.Write(all[:start])
	for range 10 { // 10 × 50 items
		buf.Write(all[start:end])
	}
	buf.Write(all[end:])
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, _, err := ParseRSS(body, "application/rss+xml", "")
		if err != nil || len(items) != 500 {
			b.Fatal(len(items), err)
		}
		Threads(items)
	}
}
