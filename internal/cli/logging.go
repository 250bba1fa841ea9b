package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsview/opsview/internal/config"
)

// Log levels of --log-level.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

var logLevelNames = []string{"debug", "info", "warn", "error"}

// logLevel is the level --log-level and --debug ask for.
func logLevel(g *globals) (slog.Level, error) {
	if g.debug {
		return slog.LevelDebug, nil
	}
	if g.logLevel == "" {
		return slog.LevelInfo, nil
	}
	l, ok := logLevels[strings.ToLower(g.logLevel)]
	if !ok {
		return 0, fmt.Errorf("--log-level %q: use %s", g.logLevel, strings.Join(logLevelNames, ", "))
	}
	return l, nil
}

// openLog opens the log file (never the screen): log/slog text lines at
// the level of --log-level (--debug: debug), every URL's user info and
// secret query arguments hidden. It falls back to discarding when the
// state directory cannot be written.
//
// The function it returns logs at info; a message starting "debug: ",
// "warning: " or "error: " is logged at that level instead, so the
// callbacks the packages below take (func(format, args...)) keep working.
func openLog(g *globals) (func(string, ...any), func()) {
	path := g.logFile
	if path == "" {
		path = config.LogPath()
	}
	level, err := logLevel(g)
	if err != nil {
		level = slog.LevelInfo // said by the command before it runs
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			l := newLogger(f, level)
			return leveledLogf(l), func() { f.Close() }
		}
	}
	return func(string, ...any) {}, func() {}
}

// newLogger writes text lines to w at level and up, secrets hidden.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(&redacting{slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(config.RedactURLs(a.Value.String()))
		}
		return a
	}})})
}

// redacting hides secrets in the message as ReplaceAttr does in the
// attributes.
type redacting struct{ slog.Handler }

func (h *redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, config.RedactURLs(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, out)
}

func (h *redacting) WithAttrs(as []slog.Attr) slog.Handler {
	return &redacting{h.Handler.WithAttrs(as)}
}
func (h *redacting) WithGroup(name string) slog.Handler { return &redacting{h.Handler.WithGroup(name)} }

var levelPrefixes = []struct {
	prefix string
	level  slog.Level
}{{"debug: ", slog.LevelDebug}, {"warning: ", slog.LevelWarn}, {"error: ", slog.LevelError}}

func leveledLogf(l *slog.Logger) func(string, ...any) {
	return func(format string, args ...any) {
		level := slog.LevelInfo
		for _, p := range levelPrefixes {
			if strings.HasPrefix(format, p.prefix) {
				level, format = p.level, format[len(p.prefix):]
				break
			}
		}
		if !l.Enabled(context.Background(), level) {
			return
		}
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

// warnings is logf for what the sources and the scheduler report: a
// source that failed, a setting that weakens security.
func warnings(logf func(string, ...any)) func(string, ...any) {
	return func(format string, args ...any) { logf("warning: "+format, args...) }
}
