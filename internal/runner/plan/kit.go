package plan

import (
	"fmt"
	"os"
	"path/filepath"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// DefaultModel is the model bin/10kthreads runs without -M.
const DefaultModel = "thread"

// Kit is the programs under -bin and the models bin/10kthreads has.
type Kit struct {
	Server, Ref, Client string
	Models              srvreport.ModelList
}

// LoadKit finds the three programs under bin and asks the server for its
// models; a missing program says to run make.
func LoadKit(bin string) (Kit, error) {
	k := Kit{
		Server: filepath.Join(bin, "10kthreads"),
		Ref:    filepath.Join(bin, "ref_async_server"),
		Client: filepath.Join(bin, "client"),
	}
	for _, p := range []string{k.Server, k.Ref, k.Client} {
		if _, err := os.Stat(p); err != nil {
			return Kit{}, fmt.Errorf("%s not found: run make first", p)
		}
	}
	l, err := srvreport.ListModels(k.Server)
	if err != nil {
		return Kit{}, err
	}
	k.Models = l
	return k, nil
}

// Spec is the server spec of one model of bin/10kthreads.
func (k Kit) Spec(model string) results.ServerSpec {
	s := results.ServerSpec{Key: "10kthreads:" + model, Label: "10kthreads (" + model + ")", Model: model, Path: k.Server}
	if model != DefaultModel {
		s.Args = []string{"-M", model}
	}
	return s
}

// GoRef is the spec of the Go reference server.
func (k Kit) GoRef() results.ServerSpec {
	return results.ServerSpec{Key: "ref_async_server", Label: "ref_async_server (goroutine)", Model: "goroutine", Path: k.Ref}
}

// Compared is every model -M list marks as compared (the thread model,
// epoll and io_uring), in its order, and the Go reference: the servers
// the main experiment and the targets of make bench and make c100k
// compare.
func (k Kit) Compared() []results.ServerSpec {
	var out []results.ServerSpec
	for _, m := range k.Models.Models {
		if m.Compared && m.SameAs == "" {
			out = append(out, k.Spec(m.Name))
		}
	}
	return append(out, k.GoRef())
}

// Facts is what bin/10kthreads says about a spec's model; the zero Model
// (unbounded, no thread or process per connection, no -w) for the Go
// reference and for servers the list does not know.
func (k Kit) Facts(s results.ServerSpec) srvreport.Model {
	// Another build's server (-compare) has the facts of this one's.
	if filepath.Base(s.Path) != filepath.Base(k.Server) {
		return srvreport.Model{}
	}
	m, _ := k.Models.Get(s.Model)
	return m
}

// Threaded says the model may run a thread or a process per connection,
// or pre-creates them, so the machine's thread limits apply to it.
func Threaded(m srvreport.Model) bool {
	return m.PerConnection != "" || m.Workers == "threads" || m.Workers == "processes"
}

// PreCreates says the model starts -w threads or processes up front.
func PreCreates(m srvreport.Model) bool {
	return m.Workers == "threads" || m.Workers == "processes"
}

// SizingFacts is what fitting spec to its CPUs needs to know of it.
func (k Kit) SizingFacts(s results.ServerSpec) Facts {
	if filepath.Base(s.Path) == filepath.Base(k.Ref) {
		return Facts{GoRuntime: true}
	}
	m := k.Facts(s)
	return Facts{EventLoops: m.Workers == "event loops", DefaultWorkers: m.DefaultWorkers}
}
