package membudget

import (
	"os"

	"github.com/prometheus/procfs"
)

// What the cgroup is charged for a connection and a thread, from these
// figures (the C server's membudget.c uses the same).
const (
	threadSize = 16 << 10 // a thread's kernel stack: x86-64, arm64
	objCgroup  = 8        // the memcg pointer beside each charged object
	ptrSize    = 8        // a connection's slot in the fd table
	// goroutineUser is what a connection's goroutine, its net.TCPConn and
	// poll descriptor add to the Go server's resident memory: 3.5-4.0 KiB
	// measured at 1,000-10,000 idle connections, rounded up.
	goroutineUser = 4 << 10
	threadPages   = 2 // stack pages a thread touches
)

// slabDefaults are the object sizes of the slab caches a connection's and
// a thread's kernel objects come from, as /proc/slabinfo gives them on
// x86-64 Linux 6.18: used where it cannot be read (not root).
var slabDefaults = map[string]int64{
	"task_struct": 5952, "pid": 192, "vm_area_struct": 192,
	"sock_inode_cache": 832, "filp": 192, "dentry": 192, "eventpoll_epi": 128,
}

// Cost is what one connection costs, in bytes, by part; their sum is
// what the budget divides by.
type Cost struct {
	User        int64 // user-space pages
	KernelStack int64 // a thread's kernel stack
	Task        int64 // kernel objects of a thread or process
	Socket      int64 // the socket's kernel objects, with its epoll item
	// ThreadKernel is one thread's kernel stack and objects, for the fixed
	// costs and the process's own figures.
	ThreadKernel, ThreadUser int64
	Source                   string // where the object sizes came from
}

// Conn is the whole cost of one connection.
func (c Cost) Conn() int64 { return c.User + c.KernelStack + c.Task + c.Socket }

// slabSizes reads the object sizes from fs's slabinfo, or keeps the
// defaults where it cannot be read or a cache is merged into another one.
func slabSizes(fs procfs.FS) (map[string]int64, string) {
	size := map[string]int64{}
	for k, v := range slabDefaults {
		size[k] = v
	}
	info, err := fs.SlabInfo()
	if err != nil {
		return size, "defaults"
	}
	src := "defaults"
	for _, s := range info.Slabs {
		if _, ok := size[s.Name]; ok {
			size[s.Name] = s.ObjSize
			src = "/proc/slabinfo"
		}
	}
	return size, src
}

// GoroutineCost is a connection's cost in the Go server: its goroutine
// and the socket's kernel objects, with the netpoller's epoll item. fs is
// the proc filesystem whose slabinfo gives the object sizes.
func GoroutineCost(fs procfs.FS) Cost {
	s, src := slabSizes(fs)
	return Cost{
		User:         goroutineUser,
		Socket:       s["sock_inode_cache"] + s["filp"] + s["dentry"] + s["eventpoll_epi"] + 4*objCgroup + ptrSize,
		ThreadKernel: threadSize + s["task_struct"] + s["pid"] + 2*s["vm_area_struct"] + 4*objCgroup,
		ThreadUser:   threadPages * int64(os.Getpagesize()),
		Source:       src,
	}
}
