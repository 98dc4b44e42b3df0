package srvreport

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"tenkthreads/internal/strictjson"
)

// ModelsSchema names the layout of `10kthreads -M list -j FILE`.
const ModelsSchema = "10kthreads-model-list/1"

// Model is what bin/10kthreads says about one of its -M models.
type Model struct {
	Name string `json:"name"`
	// Bounded: it serves at most -w (or one) connections at a time; the
	// others wait in the listen backlog.
	Bounded bool `json:"bounded"`
	// Processes: its workers or per-connection units are processes.
	Processes bool `json:"processes"`
	// PerConnection is "thread" or "process" for a model that starts one
	// per connection, "" otherwise.
	PerConnection string `json:"per_connection"`
	// Workers is what -w counts ("threads", "processes", "event loops"),
	// "" for a model that takes no -w; DefaultWorkers is its default.
	Workers        string `json:"workers"`
	DefaultWorkers int    `json:"default_workers"`
	// SameAs names the model this one is another name of, or "".
	SameAs string `json:"same_as"`
	// FDCeiling: the model serves only descriptors below it (select's
	// FD_SETSIZE), 0 for none; a model with one is Bounded.
	FDCeiling int `json:"fd_ceiling"`
	// Compared: one of the designs the main experiment (make
	// experiment) compares; the others have experiments of their own.
	Compared bool `json:"compared"`
}

// OneAtATime: the model serves a single connection at a time (bounded,
// with no -w to widen it and no descriptor ceiling to explain the bound).
func (m Model) OneAtATime() bool {
	return m.Bounded && m.Workers == "" && m.FDCeiling == 0
}

// ModelList is the whole `-M list -j FILE` document, in the server's order.
type ModelList struct {
	Schema string  `json:"schema"`
	Models []Model `json:"models"`
}

// Get returns the model called name.
func (l ModelList) Get(name string) (Model, bool) {
	for _, m := range l.Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Names lists every model name, aliases included, in the server's order.
func (l ModelList) Names() []string {
	var out []string
	for _, m := range l.Models {
		out = append(out, m.Name)
	}
	return out
}

// DecodeModels reads a model list strictly, as Decode reads a report.
func DecodeModels(b []byte) (ModelList, error) {
	var l ModelList
	if err := strictjson.Unmarshal(b, &l); err != nil {
		return ModelList{}, err
	}
	if l.Schema != ModelsSchema {
		return ModelList{}, fmt.Errorf("schema %q, want %q", l.Schema, ModelsSchema)
	}
	if len(l.Models) == 0 {
		return ModelList{}, fmt.Errorf("no models")
	}
	return l, nil
}

// ListModels runs `server -M list -j FILE` and decodes what it wrote.
func ListModels(server string) (ModelList, error) {
	f, err := os.CreateTemp("", "10kthreads-models-*.json")
	if err != nil {
		return ModelList{}, err
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, server, "-M", "list", "-j", path)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return ModelList{}, fmt.Errorf("%s -M list: %v: %s", server, err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ModelList{}, err
	}
	l, err := DecodeModels(b)
	if err != nil {
		return ModelList{}, fmt.Errorf("%s -M list -j: %w", server, err)
	}
	return l, nil
}
