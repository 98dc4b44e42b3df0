package remote

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"strconv"
	"strings"
)

// Facts is what a host runs, as far as running the local build there
// depends on it.
type Facts struct {
	Arch   string // uname -m: x86_64, aarch64, ...
	Kernel string // uname -sr
	// Libc is "glibc", "musl" or "" when neither could be told, and
	// LibcVersion its version ("2.36"), from ldd --version.
	Libc, LibcVersion string
	Taskset, Setsid   bool // whether the host has them (util-linux)
}

// probeScript prints the facts as key=value lines.
const probeScript = `echo "arch=$(uname -m)"
echo "kernel=$(uname -sr)"
echo "ldd=$(ldd --version 2>&1 | head -n 1)"
echo "taskset=$(command -v taskset)"
echo "setsid=$(command -v setsid)"`

// probe reaches host h and reads its facts: the first contact, so an
// unreachable host fails here.
func (h *Host) probe(ctx context.Context) (Facts, error) {
	out, err := h.run(ctx, "probe", probeScript, nil)
	if err != nil {
		return Facts{}, err
	}
	f, err := parseFacts(string(out))
	if err != nil {
		return f, fmt.Errorf("host %s: %v", h.Name, err)
	}
	return f, nil
}

func parseFacts(out string) (Facts, error) {
	var f Facts
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "arch":
			f.Arch = v
		case "kernel":
			f.Kernel = v
		case "ldd":
			f.Libc, f.LibcVersion = parseLdd(v)
		case "taskset":
			f.Taskset = v != ""
		case "setsid":
			f.Setsid = v != ""
		}
	}
	if f.Arch == "" {
		return f, fmt.Errorf("probe printed no architecture: %q", out)
	}
	return f, nil
}

// parseLdd reads the first line of `ldd --version`: glibc's says
// "ldd (Debian GLIBC 2.36-9) 2.36", musl's "musl libc (x86_64)".
func parseLdd(line string) (libc, version string) {
	low := strings.ToLower(line)
	switch {
	case strings.Contains(low, "musl"):
		return "musl", ""
	case strings.Contains(low, "glibc") || strings.Contains(low, "gnu libc"):
		f := strings.Fields(line)
		return "glibc", f[len(f)-1]
	}
	return "", ""
}

// Binary is what a local executable needs of a host.
type Binary struct {
	Path    string
	Machine elf.Machine
	// Interp is the dynamic loader it names ("" for a static binary);
	// Libc follows from it ("glibc", "musl", or "" if static).
	Interp, Libc string
	// GlibcMin is the newest GLIBC_x.y symbol version it needs ("" if none).
	GlibcMin string
	Needed   []string // shared libraries (DT_NEEDED)
}

// ReadBinary reads what the executable at path needs from its ELF headers.
func ReadBinary(path string) (Binary, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Binary{}, fmt.Errorf("%s: not an executable for Linux: %v", path, err)
	}
	defer f.Close()
	b := Binary{Path: path, Machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			buf := make([]byte, p.Filesz)
			if _, err := p.ReadAt(buf, 0); err != nil {
				return b, fmt.Errorf("%s: reading its loader: %v", path, err)
			}
			b.Interp = strings.TrimRight(string(buf), "\x00")
		}
	}
	switch {
	case b.Interp == "":
	case strings.Contains(b.Interp, "musl"):
		b.Libc = "musl"
	default:
		b.Libc = "glibc"
	}
	b.Needed, _ = f.ImportedLibraries()
	needs, _ := f.DynamicVersionNeeds()
	for _, n := range needs {
		for _, d := range n.Needs {
			if v, ok := strings.CutPrefix(d.Dep, "GLIBC_"); ok && versionLess(b.GlibcMin, v) {
				b.GlibcMin = v
			}
		}
	}
	return b, nil
}

// unameMachines maps what uname -m says to the ELF machine that runs there.
var unameMachines = map[string]elf.Machine{
	"x86_64": elf.EM_X86_64, "amd64": elf.EM_X86_64,
	"aarch64": elf.EM_AARCH64, "arm64": elf.EM_AARCH64,
	"i386": elf.EM_386, "i486": elf.EM_386, "i586": elf.EM_386, "i686": elf.EM_386,
	"armv6l": elf.EM_ARM, "armv7l": elf.EM_ARM, "armv8l": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "ppc64": elf.EM_PPC64,
	"s390x": elf.EM_S390, "loongarch64": elf.EM_LOONGARCH,
}

// Fits says why binary b cannot run on a host with facts f, or nil.
func (b Binary) Fits(f Facts) error {
	m, known := unameMachines[f.Arch]
	switch {
	case !known:
		return fmt.Errorf("%s is built for %s, and the host's architecture %q is one this kit does not know", b.Path, b.Machine, f.Arch)
	case m != b.Machine:
		return fmt.Errorf("%s is built for %s, the host is %s: build the kit on such a host (or cross-compile) and point at that build", b.Path, b.Machine, f.Arch)
	case b.Libc == "":
		return nil // static
	case f.Libc == "":
		return fmt.Errorf("%s needs %s, and the host's C library could not be told (ldd --version says nothing known)", b.Path, b.Libc)
	case f.Libc != b.Libc:
		return fmt.Errorf("%s is linked against %s, the host has %s: build the kit on such a host", b.Path, b.Libc, f.Libc)
	case b.Libc == "glibc" && versionLess(f.LibcVersion, b.GlibcMin):
		return fmt.Errorf("%s needs glibc %s or newer, the host has %s: build the kit on the oldest host", b.Path, b.GlibcMin, f.LibcVersion)
	}
	return nil
}

// versionLess compares dotted versions numerically ("2.9" < "2.34"); ""
// is less than anything.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	if a == "" {
		return b != ""
	}
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
