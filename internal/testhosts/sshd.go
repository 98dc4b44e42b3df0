package testhosts

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sshPort is where every host's sshd listens, on the host's address.
const sshPort = 22

// keygen makes an ed25519 key pair at path (and path.pub), no passphrase.
func keygen(ctx context.Context, path, comment string) error {
	_, err := run(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path)
	return err
}

// writeKeys makes the run's user key and each host's host key, the
// authorized_keys of each sshd, and the known_hosts the control host
// checks them against.
func (l *Lab) writeKeys(ctx context.Context) error {
	l.UserKey = filepath.Join(l.Dir, "id_ed25519")
	if err := keygen(ctx, l.UserKey, "10kthreads test hosts "+l.ID); err != nil {
		return err
	}
	pub, err := os.ReadFile(l.UserKey + ".pub")
	if err != nil {
		return err
	}
	var known strings.Builder
	for _, h := range l.sshHosts() {
		if err := l.authorize(h, pub); err != nil {
			return err
		}
		key := l.path("host_" + h.Name)
		if err := keygen(ctx, key, h.Name); err != nil {
			return err
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			return err
		}
		kind, blob, _ := strings.Cut(strings.TrimSpace(string(pub)), " ")
		blob, _, _ = strings.Cut(blob, " ")
		fmt.Fprintf(&known, "%s,%s %s %s\n", h.Name, h.Addr, kind, blob)
	}
	l.KnownHosts = l.path("known_hosts")
	return os.WriteFile(l.KnownHosts, []byte(known.String()), 0o600)
}

// authorize writes host h's authorized_keys: the run's key, with TMPDIR
// set to a directory of the host's own inside the run's, so what a
// session makes in "the host's /tmp" goes when the run's directory goes,
// even if the session's owner never cleans up. SHLVL=1 keeps bash, as
// the login shell sshd runs each command with, from reading ~/.bashrc:
// Debian's bash reads it for a command sent over ssh only in a
// top-level shell, and SHLVL=1 makes it the second level. The test user
// is root, whose ~/.bashrc on a developer's machine may take a second
// to run, for every one of the many ssh commands of a run.
func (l *Lab) authorize(h *Host, pub []byte) error {
	tmp := l.path("tmp_" + h.Name)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	line := fmt.Sprintf("environment=\"TMPDIR=%s\",environment=\"SHLVL=1\" %s", tmp, pub)
	return os.WriteFile(l.path("authorized_keys_"+h.Name), []byte(line), 0o600)
}

// sshdConfig is host h's sshd_config: its own address, its own host key,
// its authorized_keys, public keys only. StrictModes is off
// because the run's directory sits under the world-writable /tmp. The
// key exchange is plain curve25519: the default post-quantum one costs
// half a second of CPU per connection on a small machine, and nothing
// secret crosses these links.
func (l *Lab) sshdConfig(h *Host, login string) string {
	return fmt.Sprintf(`ListenAddress %s:%d
HostKey %s
AuthorizedKeysFile %s
AllowUsers %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitUserEnvironment yes
StrictModes no
UseDNS no
PidFile none
PrintMotd no
X11Forwarding no
Subsystem sftp internal-sftp
LogLevel INFO
KexAlgorithms curve25519-sha256
`, h.Addr, sshPort, l.path("host_"+h.Name), l.path("authorized_keys_"+h.Name), login)
}

// sshConfig is the control host's ssh_config: every host by its name,
// the run's key only, host keys checked against the run's known_hosts,
// and never a prompt.
func (l *Lab) sshConfig(login string) string {
	var b strings.Builder
	for _, h := range l.sshHosts() {
		fmt.Fprintf(&b, "Host %s\n\tHostName %s\n\tPort %d\n\n", h.Name, h.Addr, sshPort)
	}
	fmt.Fprintf(&b, `Host *
	User %s
	IdentityFile %s
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile %s
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	CheckHostIP no
	BatchMode yes
	ConnectTimeout %d
	ControlMaster no
	ControlPath none
`, login, l.UserKey, l.KnownHosts, int(l.connectTimeout/time.Second))
	return b.String()
}

// writeConfigs writes every host's sshd_config and the control host's
// ssh_config.
func (l *Lab) writeConfigs() error {
	u, err := user.Current()
	if err != nil {
		return err
	}
	for _, h := range l.sshHosts() {
		if err := os.WriteFile(l.path("sshd_config_"+h.Name), []byte(l.sshdConfig(h, u.Username)), 0o600); err != nil {
			return err
		}
	}
	l.SSHConfig = l.path("ssh_config")
	return os.WriteFile(l.SSHConfig, []byte(l.sshConfig(u.Username)), 0o600)
}

// sshdScript starts sshd in the host's namespace. sshd needs its
// privilege separation directory, /run/sshd, which only the ssh service
// makes; `ip netns exec` gives the command a mount namespace of its own,
// so a private /run there provides it without touching the machine's.
const sshdScript = `mount -t tmpfs -o mode=0755 10kt-run /run && mkdir -m 0755 /run/sshd && exec "$0" -D -e -f "$1"`

// startSSHD starts host h's sshd and waits until it listens. It dies
// with the thread that started it if this process dies first.
func (l *Lab) startSSHD(ctx context.Context, h *Host, sshd string) error {
	cmd := exec.Command("ip", "netns", "exec", h.NS, "sh", "-c", sshdScript, sshd, l.path("sshd_config_"+h.Name))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	logf, err := os.Create(l.path("sshd_" + h.Name + ".log"))
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	h.sshd = cmd
	h.sshdDone = make(chan struct{})
	listening := make(chan struct{})
	go func() {
		follow(stderr, logf, "Server listening on", listening)
		cmd.Wait()
		logf.Close()
		close(h.sshdDone)
	}()
	select {
	case <-listening:
		return nil
	case <-h.sshdDone:
		return fmt.Errorf("host %s: sshd exited at start: %s", h.Name, LastLine(readFile(logf.Name())))
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return fmt.Errorf("host %s: sshd did not listen within 10s: %s", h.Name, LastLine(readFile(logf.Name())))
	}
}

// follow copies r to w line by line and closes ready at the first line
// containing mark.
func follow(r io.Reader, w io.Writer, mark string, ready chan<- struct{}) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(w, sc.Text())
		if ready != nil && strings.Contains(sc.Text(), mark) {
			close(ready)
			ready = nil
		}
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// stopSSHD stops host h's sshd: SIGTERM, then SIGKILL if it lingers.
func stopSSHD(h *Host) error {
	if h.sshd == nil {
		return nil
	}
	h.sshd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.sshdDone:
		return nil
	case <-time.After(5 * time.Second):
	}
	h.sshd.Process.Kill()
	select {
	case <-h.sshdDone:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("host %s: sshd (pid %d) did not exit after SIGKILL", h.Name, h.sshd.Process.Pid)
	}
}
