package remote

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DirPrefix starts the name of every run directory on a host (under its
// $TMPDIR, or /tmp).
const DirPrefix = "10kthreads-run."

// mkdirScript makes the run's directory and prints its path.
const mkdirScript = `mktemp -d "${TMPDIR:-/tmp}/` + DirPrefix + `XXXXXXXX"`

// Dir is the run's directory on the host, made on first use.
func (h *Host) Dir(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dir != "" {
		return h.dir, nil
	}
	out, err := h.run(ctx, "mktemp -d", mkdirScript, nil)
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	// Close will rm -rf it: be sure it is what mktemp was asked for.
	if !path.IsAbs(dir) || !strings.HasPrefix(path.Base(dir), DirPrefix) || strings.ContainsAny(dir, "\n") {
		return "", fmt.Errorf("host %s: mktemp -d printed %q, not a directory of the run", h.Name, out)
	}
	h.dir = dir
	return dir, nil
}

// Bin is where Install put the binary named name on the host.
func (h *Host) Bin(name string) string {
	return path.Join(h.runDir(), name)
}

// installed reports whether Install has copied the binary named name.
func (h *Host) installed(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.bins, name)
}

// copyScript writes stdin to $1 and prints how many bytes arrived.
const copyScript = `cat > "$1" && chmod 0755 "$1" && wc -c < "$1"`

// lddScript lists the shared libraries $@ need and the host lacks.
const lddScript = `for b in "$@"; do ldd "$b" 2>/dev/null | sed -n "s|^[[:space:]]*\([^ ]*\) => not found.*|\1|p"; done`

// Install copies the local executables at paths into the run's directory
// on the host, under their base names, after checking that each fits the
// host's architecture and C library; a binary that does not fit is not
// copied, and the error says why. It then checks that the host has every
// shared library they need.
func (h *Host) Install(ctx context.Context, paths ...string) error {
	for _, p := range paths {
		b, err := ReadBinary(p)
		if err != nil {
			return fmt.Errorf("host %s: %v", h.Name, err)
		}
		if err := b.Fits(h.Facts); err != nil {
			return fmt.Errorf("host %s: not copying: %v", h.Name, err)
		}
	}
	dir, err := h.Dir(ctx)
	if err != nil {
		return err
	}
	var remote []string
	for _, p := range paths {
		dst := path.Join(dir, filepath.Base(p))
		if err := h.copyFile(ctx, p, dst); err != nil {
			return err
		}
		remote = append(remote, dst)
		h.mu.Lock()
		h.bins = append(h.bins, filepath.Base(p))
		h.mu.Unlock()
	}
	out, err := h.run(ctx, "ldd", lddScript, nil, remote...)
	if err != nil {
		return err
	}
	if missing := strings.Fields(string(out)); len(missing) > 0 {
		return fmt.Errorf("host %s: the kit's binaries need %s, which the host lacks: install them there", h.Name, strings.Join(missing, ", "))
	}
	return nil
}

// copyFile copies local file src to dst on the host and checks that
// every byte arrived.
func (h *Host) copyFile(ctx context.Context, src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("host %s: %v", h.Name, err)
	}
	out, err := h.run(ctx, "copy "+filepath.Base(src), copyScript, bytes.NewReader(data), dst)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || n != len(data) {
		return fmt.Errorf("host %s: copy of %s: %s bytes arrived of %d", h.Name, src, strings.TrimSpace(string(out)), len(data))
	}
	return nil
}

// fetchScript prints the size of each file "$@" on a line, then the files.
const fetchScript = `for f in "$@"; do wc -c < "$f" || exit; done; cat -- "$@"`

// Fetch copies file src on the host (relative to the run's directory) to
// the local file dst, checking that every byte arrived.
func (h *Host) Fetch(ctx context.Context, src, dst string) error {
	data, err := h.ReadFile(ctx, src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// ReadFile returns the contents of file name on the host (relative to
// the run's directory).
func (h *Host) ReadFile(ctx context.Context, name string) ([]byte, error) {
	files, err := h.readFiles(ctx, name)
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

// readFiles reads files on the host in one round trip, each checked to
// have arrived whole.
func (h *Host) readFiles(ctx context.Context, names ...string) ([][]byte, error) {
	for i, n := range names {
		if !path.IsAbs(n) {
			names[i] = path.Join(h.runDir(), n)
		}
	}
	out, err := h.run(ctx, "read "+strings.Join(names, " "), fetchScript, nil, names...)
	if err != nil {
		return nil, err
	}
	sizes := make([]int, len(names))
	for i := range names {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		n, err := strconv.Atoi(strings.TrimSpace(string(line)))
		if err != nil {
			return nil, fmt.Errorf("host %s: read %s: size %q", h.Name, names[i], line)
		}
		sizes[i], out = n, rest
	}
	files := make([][]byte, len(names))
	for i, n := range sizes {
		if n > len(out) {
			return nil, fmt.Errorf("host %s: read %s: %d bytes arrived of %d", h.Name, names[i], len(out), n)
		}
		files[i], out = out[:n], out[n:]
	}
	if len(out) > 0 {
		return nil, fmt.Errorf("host %s: read %s: %d bytes more than announced", h.Name, strings.Join(names, " "), len(out))
	}
	return files, nil
}
