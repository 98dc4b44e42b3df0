package sysinfo

import (
	"fmt"
	"os"
)

// Meminfo is the part of /proc/meminfo that says where the machine's
// memory goes, in KiB: what a connection costs beyond a process's RSS
// shows in these counters and nowhere else.
type Meminfo struct {
	MemAvailable int64 `json:"mem_available_kib"`
	MemFree      int64 `json:"mem_free_kib"`
	AnonPages    int64 `json:"anon_pages_kib"`
	KernelStack  int64 `json:"kernel_stack_kib"`
	Slab         int64 `json:"slab_kib"`
	SUnreclaim   int64 `json:"sunreclaim_kib"`
	PageTables   int64 `json:"page_tables_kib"`
}

// Meminfo reads every Meminfo field from one read of /proc/meminfo, so
// the fields agree; a kernel without one of them is an error naming it.
func (f FS) Meminfo() (Meminfo, error) {
	if f.err != nil {
		return Meminfo{}, f.err
	}
	m, err := f.fs.Meminfo()
	if err != nil {
		return Meminfo{}, err
	}
	var out Meminfo
	for _, fl := range []struct {
		name string
		v    *uint64
		to   *int64
	}{
		{"MemAvailable", m.MemAvailable, &out.MemAvailable},
		{"MemFree", m.MemFree, &out.MemFree},
		{"AnonPages", m.AnonPages, &out.AnonPages},
		{"KernelStack", m.KernelStack, &out.KernelStack},
		{"Slab", m.Slab, &out.Slab},
		{"SUnreclaim", m.SUnreclaim, &out.SUnreclaim},
		{"PageTables", m.PageTables, &out.PageTables},
	} {
		if fl.v == nil {
			return Meminfo{}, fmt.Errorf("/proc/meminfo: %s: %w", fl.name, errNoField)
		}
		*fl.to = int64(*fl.v)
	}
	return out, nil
}

// SlabCache is one cache of /proc/slabinfo.
type SlabCache struct {
	// Objects is the objects in use (active_objs).
	Objects int64 `json:"objects"`
	// ObjectBytes is what one object takes of the machine: its slab's
	// pages divided among the objects the slab holds, so alignment and
	// the slab's unused tail are counted.
	ObjectBytes float64 `json:"object_bytes"`
	// SlabKiB is the pages the cache holds, used or not.
	SlabKiB int64 `json:"slab_kib"`
}

// KiB is the memory the cache's objects in use take.
func (c SlabCache) KiB() float64 { return float64(c.Objects) * c.ObjectBytes / 1024 }

// SlabCaches reads /proc/slabinfo by cache name. Reading it needs root on
// most kernels: the error then says so, and callers fall back to the
// Slab total of /proc/meminfo.
func (f FS) SlabCaches() (map[string]SlabCache, error) {
	if f.err != nil {
		return nil, f.err
	}
	si, err := f.fs.SlabInfo()
	if err != nil {
		return nil, err
	}
	page := int64(os.Getpagesize())
	out := make(map[string]SlabCache, len(si.Slabs))
	for _, s := range si.Slabs {
		c := SlabCache{Objects: s.ObjActive, SlabKiB: s.SlabNum * s.PagesPerSlab * page / 1024}
		if s.ObjPerSlab > 0 {
			c.ObjectBytes = float64(s.PagesPerSlab*page) / float64(s.ObjPerSlab)
		}
		out[s.Name] = c
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/slabinfo: no caches")
	}
	return out, nil
}
