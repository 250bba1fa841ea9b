package httpfetch

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// closingBody fails every read once it is closed, as the AWS SDK's
// request body does.
type closingBody struct {
	r      io.Reader
	closed bool
}

func (b *closingBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on a closed body")
	}
	return b.r.Read(p)
}

func (b *closingBody) Close() error { b.closed = true; return nil }

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// The SDK closes its request body as soon as Do returns; the transport
// may still be writing it (an answer can come before the writer is done),
// and a writer that fails closes the connection under the answer. The
// transport gets a body of its own.
func TestTheTransportOwnsTheRequestBody(t *testing.T) {
	sdkBody := &closingBody{r: strings.NewReader(`{"MetricDataQueries":[]}`)}
	req, err := http.NewRequest(http.MethodPost, "http://monitoring.test/", sdkBody)
	if err != nil {
		t.Fatal(err)
	}
	var sent *http.Request
	d := Bounded(doerFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	}), 1<<20)
	if _, err := d.Do(req); err != nil {
		t.Fatal(err)
	}
	sdkBody.Close() // what the SDK does when Do returns
	got, err := io.ReadAll(sent.Body)
	if err != nil || string(got) != `{"MetricDataQueries":[]}` || sent.ContentLength != int64(len(got)) {
		t.Fatalf("the transport's body after the SDK closed its own: %q %v (length %d)", got, err, sent.ContentLength)
	}
	if again, err := sent.GetBody(); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(again); string(b) != string(got) {
		t.Fatalf("GetBody: %q", b)
	}
}
