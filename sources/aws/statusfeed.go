package aws

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// Dashboard status codes as the AWS Health Dashboard's own JavaScript reads
// them (undocumented by AWS): 0 resolved/operating normally, 1
// informational, 2 degraded, 3 disrupted.
const (
	StatusOperational   = 0
	StatusInformational = 1
	StatusDegraded      = 2
	StatusDisruption    = 3
)

// DashboardEvent is one entry of the public current-events feed
// (https://health.aws.amazon.com/public/currentevents).
type DashboardEvent struct {
	ARN         string
	Service     string // feed key, "multipleservices-us-west-2", "ec2-us-east-1"
	ServiceName string
	RegionName  string
	Summary     string
	Status      int
	Date        time.Time // first published
	End         time.Time // zero while open
	Log         []LogEntry
	Impacted    map[string]ImpactedService // by feed key, "sts-us-west-2"
}

// LogEntry is one update of a dashboard event.
type LogEntry struct {
	At      time.Time
	Status  int
	Summary string
	Message string
}

// ImpactedService is a service×region an event touches, with its current
// and worst status.
type ImpactedService struct {
	Name    string
	Current int
	Max     int
}

// flexInt reads the feed's numbers, which come as strings at the top level
// ("1788472198", "3") and as numbers inside event_log.
type flexInt struct {
	V   int64
	Set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		b = []byte(s)
	}
	// epochs sometimes carry a fraction
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		b = b[:i]
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40q", b)
	}
	f.V, f.Set = v, true
	return nil
}

type wireEvent struct {
	Date        flexInt `json:"date"`
	ARN         string  `json:"arn"`
	RegionName  string  `json:"region_name"`
	Status      flexInt `json:"status"`
	Service     string  `json:"service"`
	ServiceName string  `json:"service_name"`
	Summary     string  `json:"summary"`
	EventLog    []struct {
		Summary   string  `json:"summary"`
		Message   string  `json:"message"`
		Status    flexInt `json:"status"`
		Timestamp flexInt `json:"timestamp"`
	} `json:"event_log"`
	Impacted map[string]struct {
		ServiceName string  `json:"service_name"`
		Current     flexInt `json:"current"`
		Max         flexInt `json:"max"`
	} `json:"impacted_services"`
	EndTime flexInt `json:"end_time"`
}

func epoch(f flexInt) time.Time {
	if !f.Set || f.V <= 0 || f.V > 1<<40 {
		return time.Time{}
	}
	return time.Unix(f.V, 0).UTC()
}

func clampStatus(v flexInt) int {
	switch {
	case v.V < 0:
		return 0
	case v.V > StatusDisruption:
		return StatusDisruption
	}
	return int(v.V)
}

// ParseCurrentEvents parses the body of the public current-events feed. It
// decodes the UTF-16 (BOM) encoding the live endpoint uses, and says clearly
// when the body is HTML or cut short. Strings are cleaned of terminal escapes.
func ParseCurrentEvents(body []byte, contentType string) ([]DashboardEvent, error) {
	if looksLikeHTML(body, contentType) {
		return nil, errors.New("got an HTML page instead of the current-events JSON (a proxy error page or captive portal? check url)")
	}
	data, err := toUTF8(body, contentType)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty current-events feed")
	}
	if looksLikeHTML(data, "") {
		return nil, errors.New("got an HTML page instead of the current-events JSON (a proxy error page or captive portal? check url)")
	}
	var wire []wireEvent
	if err := json.Unmarshal(data, &wire); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || strings.Contains(err.Error(), "unexpected end of JSON") {
			return nil, fmt.Errorf("current-events feed is not valid JSON (truncated?): %v", err)
		}
		return nil, fmt.Errorf("current-events feed has an unexpected shape (did AWS change it?): %v", err)
	}
	out := make([]DashboardEvent, 0, len(wire))
	for _, w := range wire {
		e := DashboardEvent{
			ARN:         sources.Clean(w.ARN),
			Service:     sources.Clean(strings.ToLower(strings.TrimSpace(w.Service))),
			ServiceName: sources.Clean(w.ServiceName),
			RegionName:  sources.Clean(w.RegionName),
			Summary:     sources.Clean(w.Summary),
			Status:      clampStatus(w.Status),
			Date:        epoch(w.Date),
			End:         epoch(w.EndTime),
		}
		for _, l := range w.EventLog {
			e.Log = append(e.Log, LogEntry{
				At:      epoch(l.Timestamp),
				Status:  clampStatus(l.Status),
				Summary: sources.Clean(l.Summary),
				Message: sources.CleanText(l.Message),
			})
		}
		sort.SliceStable(e.Log, func(i, j int) bool { return e.Log[i].At.Before(e.Log[j].At) })
		if len(w.Impacted) > 0 {
			e.Impacted = make(map[string]ImpactedService, len(w.Impacted))
			for k, v := range w.Impacted {
				e.Impacted[sources.Clean(strings.ToLower(k))] = ImpactedService{
					Name: sources.Clean(v.ServiceName), Current: clampStatus(v.Current), Max: clampStatus(v.Max),
				}
			}
		}
		if e.ARN == "" && e.Service == "" {
			continue // nothing to key it by
		}
		out = append(out, e)
	}
	return out, nil
}

// Start is when the event began: the earliest of its date and its updates.
func (e *DashboardEvent) Start() time.Time {
	t := e.Date
	for _, l := range e.Log {
		if !l.At.IsZero() && (t.IsZero() || l.At.Before(t)) {
			t = l.At
		}
	}
	return t
}

// Updated is the time of the latest update.
func (e *DashboardEvent) Updated() time.Time {
	t := e.Date
	for _, l := range e.Log {
		if l.At.After(t) {
			t = l.At
		}
	}
	if e.End.After(t) {
		t = e.End
	}
	return t
}

// Resolved reports whether the dashboard says the event is over.
func (e *DashboardEvent) Resolved() bool {
	return !e.End.IsZero() || e.Status == StatusOperational
}

// Worst is the worst status the event reached anywhere.
func (e *DashboardEvent) Worst() int {
	w := e.Status
	for _, l := range e.Log {
		w = max(w, l.Status)
	}
	for _, s := range e.Impacted {
		w = max(w, s.Max, s.Current)
	}
	return w
}

// CurrentFor is the event's current status for one feed key: the impacted
// entry's current status, or the event's own status for its own key.
func (e *DashboardEvent) CurrentFor(key string) (int, bool) {
	if e.Resolved() {
		return StatusOperational, false
	}
	if s, ok := e.Impacted[key]; ok {
		return s.Current, true
	}
	if e.Service == key {
		return e.Status, true
	}
	return 0, false
}

var regionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`-([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]+)$`) })

// SplitKey splits a feed key ("bedrock-agentcore-us-east-1") into service
// and region. Global services ("cloudfront") have no region.
func SplitKey(key string) (service, region string) {
	if m := regionRE().FindStringSubmatchIndex(key); m != nil {
		return key[:m[0]], key[m[2]:m[3]]
	}
	return key, ""
}

// StatusItem is one <item> of an AWS status RSS feed: one update of one
// service in one region.
type StatusItem struct {
	Key      string // service key from the guid, "ec2-us-east-1"
	At       time.Time
	Status   int    // from the title's prefix
	Resolved bool   // "Service is operating normally" or "[RESOLVED]"
	Title    string // without the prefix
	Text     string
	GUID     string
}

type rssDoc struct {
	XMLName xml.Name `xml:"rss"`
	Channel struct {
		Title string    `xml:"title"`
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
}

type rssItem struct {
	Title       string `xml:"title"`
	PubDate     string `xml:"pubDate"`
	GUID        string `xml:"guid"`
	Description string `xml:"description"`
}

// ParseRSS parses an AWS status RSS feed (all.rss or a per service-region
// feed). fallbackKey names the service when a guid carries none. Items
// whose time cannot be read are skipped and counted.
func ParseRSS(body []byte, contentType, fallbackKey string) (items []StatusItem, skipped int, err error) {
	if looksLikeHTML(body, contentType) {
		return nil, 0, errors.New("got an HTML page instead of the RSS feed (a proxy error page, or the feed name is wrong? check rss_base_url, services and regions)")
	}
	data, err := toUTF8(body, "")
	if err != nil {
		return nil, 0, err
	}
	var doc rssDoc
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		// AWS declares UTF-8; anything else is read as is
		return input, nil
	}
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
			return nil, 0, fmt.Errorf("RSS feed is cut short (truncated?): %v", err)
		}
		return nil, 0, fmt.Errorf("not an RSS feed: %v", err)
	}
	for _, it := range doc.Channel.Items {
		si := StatusItem{GUID: sources.Clean(strings.TrimSpace(it.GUID))}
		var guidAt time.Time
		si.Key, guidAt = parseGUID(si.GUID)
		if si.Key == "" {
			si.Key = fallbackKey
		}
		at, ok := parsePubDate(it.PubDate)
		if !ok {
			at = guidAt
		}
		if at.IsZero() {
			skipped++
			continue
		}
		si.At = at
		si.Status, si.Resolved, si.Title = classifyTitle(sources.Clean(strings.TrimSpace(it.Title)))
		si.Text = sources.CleanText(strings.TrimSpace(it.Description))
		items = append(items, si)
	}
	return items, skipped, nil
}

// parseGUID reads "https://status.aws.amazon.com/#ec2-us-east-1_1787025679".
func parseGUID(g string) (string, time.Time) {
	i := strings.LastIndexByte(g, '#')
	if i < 0 {
		return "", time.Time{}
	}
	frag := g[i+1:]
	j := strings.LastIndexByte(frag, '_')
	if j <= 0 {
		return strings.ToLower(frag), time.Time{}
	}
	key := strings.ToLower(frag[:j])
	sec, err := strconv.ParseInt(frag[j+1:], 10, 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return key, time.Time{}
	}
	return key, time.Unix(sec, 0).UTC()
}

// zoneOffsets maps the abbreviations AWS puts in pubDate (PDT/PST) and a
// few others to offsets: Go's time.Parse cannot resolve abbreviations.
var zoneOffsets = map[string]string{
	"PDT": "-0700", "PST": "-0800", "MDT": "-0600", "MST": "-0700",
	"CDT": "-0500", "CST": "-0600", "EDT": "-0400", "EST": "-0500",
	"UTC": "+0000", "GMT": "+0000", "UT": "+0000", "Z": "+0000",
}

func parsePubDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		if off, ok := zoneOffsets[strings.ToUpper(s[i+1:])]; ok {
			s2 := s[:i+1] + off
			for _, layout := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700"} {
				if t, err := time.Parse(layout, s2); err == nil {
					return t.UTC(), true
				}
			}
		}
	}
	return time.Time{}, false
}

var titlePrefixes = []struct {
	prefix string
	status int
}{
	{"service is operating normally:", StatusOperational},
	{"service is operating normally", StatusOperational},
	{"informational message:", StatusInformational},
	{"service degradation:", StatusDegraded},
	{"service impact:", StatusDegraded},
	{"service disruption:", StatusDisruption},
}

// classifyTitle reads the status from an RSS title's prefix and strips it.
func classifyTitle(t string) (status int, resolved bool, rest string) {
	l := strings.ToLower(t)
	status, rest = StatusInformational, t
	for _, p := range titlePrefixes {
		if strings.HasPrefix(l, p.prefix) {
			status = p.status
			rest = strings.TrimSpace(t[len(p.prefix):])
			break
		}
	}
	resolved = status == StatusOperational || strings.Contains(strings.ToUpper(t), "[RESOLVED]")
	rest = strings.TrimSpace(strings.ReplaceAll(rest, "[RESOLVED]", ""))
	if rest == "" {
		rest = t
	}
	return status, resolved, rest
}

// StatusThread is one event as an RSS feed tells it: consecutive updates of
// one service key up to and including the one that resolves it.
type StatusThread struct {
	Key   string
	Items []StatusItem // ascending time
	// Truncated is set when the thread starts at the feed's oldest item, so
	// its real start may have scrolled out of the feed's window.
	Truncated bool
}

// Start, Updated, Open and Worst describe the thread.
func (t *StatusThread) Start() time.Time   { return t.Items[0].At }
func (t *StatusThread) Updated() time.Time { return t.Items[len(t.Items)-1].At }
func (t *StatusThread) Open() bool         { return !t.Items[len(t.Items)-1].Resolved }
func (t *StatusThread) Worst() int {
	w := 0
	for _, it := range t.Items {
		w = max(w, it.Status)
	}
	return w
}

// Current is the status the latest update gives.
func (t *StatusThread) Current() int {
	last := t.Items[len(t.Items)-1]
	if last.Resolved {
		return StatusOperational
	}
	return last.Status
}

// Threads groups RSS items into events: per key, in time order, a thread
// runs until an item resolves it. RSS items carry no event id.
func Threads(items []StatusItem) []StatusThread {
	byKey := map[string][]StatusItem{}
	for _, it := range items {
		byKey[it.Key] = append(byKey[it.Key], it)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []StatusThread
	for _, k := range keys {
		its := byKey[k]
		sort.SliceStable(its, func(i, j int) bool { return its[i].At.Before(its[j].At) })
		var cur *StatusThread
		for i, it := range its {
			if cur == nil {
				out = append(out, StatusThread{Key: k, Truncated: i == 0})
				cur = &out[len(out)-1]
			}
			cur.Items = append(cur.Items, it)
			if it.Resolved {
				cur = nil
			}
		}
	}
	return out
}
