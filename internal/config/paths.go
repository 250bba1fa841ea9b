package config

import (
	"os"
	"path/filepath"
)

// Find returns the config file to use: flag, else $OPSVIEW_CONFIG, else
// $XDG_CONFIG_HOME/opsview/config.yaml (~/.config/…). found is false when
// none was named and the default does not exist.
func Find(flag string) (path string, found bool) {
	if flag != "" {
		return flag, true
	}
	if p := os.Getenv("OPSVIEW_CONFIG"); p != "" {
		return p, true
	}
	p := DefaultPath()
	if _, err := os.Stat(p); err == nil {
		return p, true
	}
	return p, false
}

// DefaultPath is $XDG_CONFIG_HOME/opsview/config.yaml.
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "opsview", "config.yaml")
}

// StateDir is $XDG_STATE_HOME/opsview (~/.local/state/opsview): logs,
// the SSH host key, recordings by default.
func StateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "opsview")
}

// LogPath is where opsview logs.
func LogPath() string { return filepath.Join(StateDir(), "opsview.log") }
