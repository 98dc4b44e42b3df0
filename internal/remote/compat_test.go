package remote

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestFits(t *testing.T) {
	dyn := Binary{Path: "bin/10kthreads", Machine: elf.EM_X86_64, Interp: "/lib64/ld-linux-x86-64.so.2", Libc: "glibc", GlibcMin: "2.34"}
	static := Binary{Path: "bin/static", Machine: elf.EM_X86_64}
	arm := Binary{Path: "bin/arm", Machine: elf.EM_AARCH64, Libc: "glibc", GlibcMin: "2.17"}
	debian := Facts{Arch: "x86_64", Libc: "glibc", LibcVersion: "2.36"}
	for _, tc := range []struct {
		name string
		b    Binary
		f    Facts
		want string // "" for fits
	}{
		{"same build", dyn, debian, ""},
		{"newer glibc", dyn, Facts{Arch: "x86_64", Libc: "glibc", LibcVersion: "2.40"}, ""},
		{"exactly the glibc", dyn, Facts{Arch: "x86_64", Libc: "glibc", LibcVersion: "2.34"}, ""},
		{"older glibc", dyn, Facts{Arch: "x86_64", Libc: "glibc", LibcVersion: "2.31"}, "bin/10kthreads needs glibc 2.34 or newer, the host has 2.31"},
		{"musl host", dyn, Facts{Arch: "x86_64", Libc: "musl"}, "is linked against glibc, the host has musl"},
		{"libc unknown", dyn, Facts{Arch: "x86_64"}, "the host's C library could not be told"},
		{"arm host", dyn, Facts{Arch: "aarch64", Libc: "glibc", LibcVersion: "2.36"}, "bin/10kthreads is built for EM_X86_64, the host is aarch64"},
		{"arm binary", arm, debian, "bin/arm is built for EM_AARCH64, the host is x86_64"},
		{"arm on arm64", arm, Facts{Arch: "arm64", Libc: "glibc", LibcVersion: "2.17"}, ""},
		{"unknown arch", dyn, Facts{Arch: "pdp11"}, `the host's architecture "pdp11" is one this kit does not know`},
		{"static anywhere", static, Facts{Arch: "x86_64", Libc: "musl"}, ""},
		{"static, libc unknown", static, Facts{Arch: "amd64"}, ""},
	} {
		err := tc.b.Fits(tc.f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: fits, want %q", tc.name, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"2.9", "2.34", true}, {"2.34", "2.9", false}, {"2.34", "2.34", false},
		{"2.3.4", "2.3", false}, {"2.3", "2.3.4", true}, {"", "2.2.5", true}, {"2.2.5", "", false}, {"", "", false},
	} {
		if got := versionLess(tc.a, tc.b); got != tc.less {
			t.Errorf("versionLess(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestParseFacts(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want Facts
	}{
		{"arch=x86_64\nkernel=Linux 6.1.0\nldd=ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\ntaskset=/usr/bin/taskset\nsetsid=/usr/bin/setsid\n",
			Facts{Arch: "x86_64", Kernel: "Linux 6.1.0", Libc: "glibc", LibcVersion: "2.36", Taskset: true, Setsid: true}},
		{"arch=aarch64\nkernel=Linux 5.15\nldd=ldd (GNU libc) 2.17\ntaskset=\nsetsid=/bin/setsid\n",
			Facts{Arch: "aarch64", Kernel: "Linux 5.15", Libc: "glibc", LibcVersion: "2.17", Setsid: true}},
		{"arch=x86_64\nkernel=Linux 6.6\nldd=musl libc (x86_64)\ntaskset=\nsetsid=\n",
			Facts{Arch: "x86_64", Kernel: "Linux 6.6", Libc: "musl"}},
		{"arch=x86_64\nkernel=Linux 6.6\nldd=sh: 1: ldd: not found\n",
			Facts{Arch: "x86_64", Kernel: "Linux 6.6"}},
	} {
		got, err := parseFacts(tc.out)
		if err != nil || got != tc.want {
			t.Errorf("parseFacts(%q) = %+v, %v; want %+v", tc.out, got, err, tc.want)
		}
	}
	if _, err := parseFacts("Welcome to the bench lab!\n"); err == nil || !strings.Contains(err.Error(), "no architecture") {
		t.Errorf("a banner for facts: %v", err)
	}
}

// ReadBinary on this very test binary: built for the machine it runs on.
func TestReadBinarySelf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBinary(self)
	if err != nil {
		t.Fatal(err)
	}
	goarch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x"}
	local := Facts{Arch: goarch[runtime.GOARCH], Libc: "glibc", LibcVersion: "99.0"}
	if b.Libc == "musl" {
		local.Libc = "musl"
	}
	if err := b.Fits(local); err != nil {
		t.Errorf("this test binary does not fit this machine: %v (%+v)", err, b)
	}
	if _, err := ReadBinary(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file read as a binary")
	}
}

// foreignELF writes the smallest ELF executable header for machine m: a
// binary of another architecture, as far as anything that reads its
// headers can tell.
func foreignELF(t *testing.T, m elf.Machine) string {
	t.Helper()
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "client")
	if err := os.WriteFile(p, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadBinaryForeign(t *testing.T) {
	b, err := ReadBinary(foreignELF(t, elf.EM_AARCH64))
	if err != nil {
		t.Fatal(err)
	}
	if b.Machine != elf.EM_AARCH64 || b.Libc != "" {
		t.Errorf("read %+v, want an aarch64 static binary", b)
	}
	if err := b.Fits(Facts{Arch: "x86_64", Libc: "glibc", LibcVersion: "2.36"}); err == nil || !strings.Contains(err.Error(), "built for EM_AARCH64, the host is x86_64") {
		t.Errorf("fits an x86_64 host: %v", err)
	}
}
