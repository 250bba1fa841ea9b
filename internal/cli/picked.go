package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opsview/opsview/internal/config"
)

// Series added with the picker (`a` in Graphs) are remembered per
// configuration file, so the next start polls them again. The file is a
// list of "config path<TAB>source/series" lines; deleting a line forgets
// that series.

// pickedPath is where the picks are remembered.
func pickedPath() string { return filepath.Join(config.StateDir(), "picked-series") }

// maxPickedBytes bounds the read of the picks file.
const maxPickedBytes = 1 << 20

// loadPicked returns the series remembered for the configuration at
// cfgPath, in the order they were added, each once.
func loadPicked(file, cfgPath string) ([]string, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(f, maxPickedBytes))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cfg, id, ok := strings.Cut(line, "\t")
		if !ok || cfg != cfgPath || id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, sc.Err()
}

// savePicked remembers id for the configuration at cfgPath (once).
func savePicked(file, cfgPath, id string) error {
	if strings.ContainsAny(cfgPath, "\t\n") || strings.ContainsAny(id, "\t\n") {
		return fmt.Errorf("cannot remember %q: tab or newline in it", id)
	}
	have, err := loadPicked(file, cfgPath)
	if err != nil {
		return err
	}
	for _, h := range have {
		if h == id {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s\t%s\n", cfgPath, id); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// seriesAdder is what rememberPicks adds series to (the runtime).
type seriesAdder interface {
	AddSeries(id string, window time.Duration) error
}

// rememberPicks adds the series remembered for cfgPath to rt again, and
// returns the picker's add function, which also remembers what it adds.
// A series that can no longer be added (its source left the
// configuration) is logged and skipped.
func rememberPicks(rt seriesAdder, file, cfgPath string, logf func(string, ...any)) func(string) error {
	ids, err := loadPicked(file, cfgPath)
	if err != nil {
		logf("picked series: %v", err)
	}
	for _, id := range ids {
		if err := rt.AddSeries(id, time.Hour); err != nil {
			logf("picked series %s: %v", id, err)
		}
	}
	return func(id string) error {
		if err := rt.AddSeries(id, time.Hour); err != nil {
			return err
		}
		if err := savePicked(file, cfgPath, id); err != nil {
			logf("remember picked series %s: %v", id, err)
		}
		return nil
	}
}
