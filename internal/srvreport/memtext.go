package srvreport

// memText writes the memory budget's lines, worded as the C server's.
func (r *Report) memText(line func(label, format string, args ...any)) {
	kib := func(v int64) float64 { return float64(v) / 1024 }
	if r.MemBudget == 0 {
		line("memory limit", "none (no memory cgroup limit, no -m)")
	} else {
		where := r.MemLimitSource
		if r.MemCgroup != "" {
			where += " " + r.MemCgroup
		}
		line("memory limit", "%s (%s; headroom %s; %s in use at start)", Humanize(r.MemLimitBytes), where,
			Humanize(r.MemHeadroomBytes), Humanize(r.MemStartBytes))
	}
	line("memory per conn (est.)", "%.2f KiB (user %.2f + kernel stack %.2f + task objects %.2f + socket %.2f KiB; object sizes from %s)",
		kib(r.MemConnBytes), kib(r.MemConnUserBytes), kib(r.MemConnKStackBytes), kib(r.MemConnTaskBytes),
		kib(r.MemConnSocketBytes), r.MemCostSource)
	if r.MemBudget == 0 {
		line("memory budget", "none")
		line("closed over budget", "%d (no budget)", r.OverBudget)
		return
	}
	line("memory budget", "%d connections, %s in use now; admission stops above %s", r.MemBudget,
		Humanize(r.MemUsageBytes), Humanize(r.MemLimitBytes-r.MemHeadroomBytes))
	line("closed over budget", "%d (budget %d)", r.OverBudget, r.MemBudget)
}
