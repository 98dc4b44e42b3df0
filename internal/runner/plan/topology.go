package plan

import (
	"flag"
	"fmt"
	"strings"
)

// topologyUsage ends the usage line; checkTopology says which modes take which.
const topologyUsage = "; where: [-topology netns|both [-link-mbit R [-link-htb]] [-link-delay D] [-link-loss P]] | [-server-host HOST -client-hosts H1,H2 | -hosts FILE] [-ssh-config FILE]"

// topologyFlags are the flags that say where the sides run.
func topologyFlags(fs *flag.FlagSet, o *Options, v *flagValues) {
	fs.StringVar(&o.Topology, "topology", "local", "where server and client run on this machine: local (loopback), netns (network namespaces joined by veth links to a bridge; root), or both: the matrix's every cell on loopback and again over veth, interleaved")
	fs.StringVar(&o.ServerHost, "server-host", "", "run the server on this host over ssh: [user@]host[:port] (needs -client-hosts)")
	v.clientHosts = fs.String("client-hosts", "", "run the clients on these hosts over ssh, -n split between them: H1,H2,... (needs -server-host)")
	fs.StringVar(&o.HostsFile, "hosts", "", "read the hosts from FILE, one [user@]host[:port] a line: the server host first, then the client hosts")
	fs.StringVar(&o.SSHConfig, "ssh-config", "", "ssh's configuration file (ssh -F) for -server-host and -client-hosts; default: the user's own")
	fs.Float64Var(&o.Link.RateMbit, "link-mbit", 0, "with -topology netns: rate limit of each link, each way, in Mbit/s (0: none)")
	fs.BoolVar(&o.Link.HTB, "link-htb", false, "with -link-mbit: shape with htb instead of tbf")
	fs.DurationVar(&o.Link.Delay, "link-delay", 0, "with -topology netns: delay of each link, each way (netem; skipped with a note where the kernel lacks it)")
	fs.Float64Var(&o.Link.LossPct, "link-loss", 0, "with -topology netns: loss of each link, each way, in percent (netem, as -link-delay)")
}

// checkTopology applies the rules of the topology flags.
func (o *Options) checkTopology(clientHosts string, given map[string]bool) error {
	if clientHosts != "" {
		o.ClientHosts = strings.Split(clientHosts, ",")
	}
	link := given["link-mbit"] || given["link-htb"] || given["link-delay"] || given["link-loss"]
	switch {
	case o.Topology != "local" && o.Topology != "netns" && o.Topology != "both":
		return UsageError{"-topology " + o.Topology + ": want local, netns or both"}
	case o.Topology == "both" && (o.Mode != "" || o.Report != "" || o.Docs):
		return UsageError{"-topology both goes with the experiment matrix only"}
	case o.HostsFile != "" && (o.ServerHost != "" || clientHosts != ""):
		return UsageError{"-hosts excludes -server-host and -client-hosts"}
	case o.ServerHost != "" && clientHosts == "":
		return UsageError{"-server-host needs -client-hosts"}
	case clientHosts != "" && o.ServerHost == "":
		return UsageError{"-client-hosts needs -server-host"}
	case o.Remote() && given["topology"]:
		return UsageError{"-topology excludes -server-host, -client-hosts and -hosts"}
	case o.SSHConfig != "" && !o.Remote():
		return UsageError{"-ssh-config goes with -server-host and -client-hosts, or -hosts"}
	case link && !o.Namespaces():
		return UsageError{"-link-mbit, -link-htb, -link-delay and -link-loss go with -topology netns or both"}
	case o.Link.RateMbit < 0 || o.Link.Delay < 0 || o.Link.LossPct < 0 || o.Link.LossPct > 100:
		return UsageError{"-link-mbit, -link-delay and -link-loss cannot be negative, nor -link-loss over 100"}
	case o.Link.HTB && o.Link.RateMbit == 0:
		return UsageError{"-link-htb needs -link-mbit"}
	case (o.Remote() || o.Namespaces()) && (o.Report != "" || o.Docs):
		return UsageError{"-report and -docs read results; they take no topology"}
	case (o.Remote() || o.Namespaces()) && o.Mode == "soak":
		// The soak reads the server's /proc between its phases itself.
		return UsageError{"-soak runs on this machine over loopback only; it takes no -topology netns, -server-host or -hosts"}
	case o.Remote() && o.Mode == "compare":
		// Only the kit's own binaries are copied to the hosts.
		return UsageError{"-compare runs on this machine (over loopback or -topology netns); its builds are not copied to other hosts"}
	case o.Remote() && o.Mode == "ceiling":
		// Its memory floor is watched on this machine's /proc.
		return UsageError{"-ceiling runs on this machine (over loopback or -topology netns): the floor that keeps it clear of the OOM killer is watched here"}
	case o.Remote() && (o.Mode == "c100k" || o.Mode == "c1m"):
		// Their memory floor, and the file a lingering client makes, are
		// watched on this machine.
		return UsageError{fmt.Sprintf("-%s runs on this machine (over loopback or -topology netns): its memory floor and its lingering clients are watched here", o.Mode)}
	}
	return nil
}

// Namespaces says some runs put the sides in network namespaces.
func (o Options) Namespaces() bool { return o.Topology == "netns" || o.Topology == "both" }
