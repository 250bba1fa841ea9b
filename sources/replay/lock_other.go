//go:build !unix

package replay

import "os"

// lockFile is a no-op where flock does not exist.
func lockFile(f *os.File) (func(), error) { return func() {}, nil }
