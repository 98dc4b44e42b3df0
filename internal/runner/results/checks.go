package results

// Precond is one limit of the machine checked before a campaign runs:
// what it has, what the largest run needs, and how to fix it.
type Precond struct {
	Item   string `json:"item"`
	Have   string `json:"have"`
	Need   string `json:"need"`
	OK     bool   `json:"ok"`
	Sysctl string `json:"sysctl,omitempty"` // set: -tune can fix it by writing this sysctl
	Want   string `json:"want,omitempty"`   // the value -tune writes
	Fix    string `json:"fix,omitempty"`    // what to do by hand
	// Optional: short, but the run can go ahead; -tune raises it.
	Optional bool `json:"optional,omitempty"`
}

// Problem is the shortfall in one line: the item, what it has and
// needs, and the fix.
func (p Precond) Problem() string {
	return p.Item + ": have " + p.Have + ", need " + p.Need + ": " + p.Fix
}

// SysctlChange is one sysctl -tune changed for the run, and restored.
type SysctlChange struct {
	Name string `json:"name"` // dotted, e.g. kernel.pid_max
	Old  string `json:"old"`
	New  string `json:"new"`
}
