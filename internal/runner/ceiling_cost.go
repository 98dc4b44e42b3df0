package runner

import (
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// connCost is what one connection costs the machine, from the two
// calibration holds a and b (b the larger) and their runs ra and rb: the
// server's parts per connection at b, as the hold table has them (growth
// from the idle server), and the client's growth by part from a to b,
// which leaves its runtime out. Without every part of both holds it is
// the server's user space and kernel stacks at b and the growth of the
// client's PSS, and why says what was missing.
func connCost(a, b report.CeilingStep, ra, rb *results.Run) (c plan.ConnCost, why string) {
	srv, cli, why := machineParts(ra, rb)
	if why == "" {
		return plan.ConnCost{ServerUserKiB: srv.User.V, ServerKStackKiB: srv.KStack.V, ServerThreadObjectsKiB: srv.ThreadObjects.V,
			ServerSocketKiB: srv.Sockets.V, ServerPageTablesKiB: srv.PageTables.V,
			ClientKiB: cli.Sum().V, ClientUserKiB: cli.User.V, ClientKStackKiB: cli.KStack.V, ClientThreadObjectsKiB: cli.ThreadObjects.V,
			ClientSocketKiB: cli.Sockets.V, ClientPageTablesKiB: cli.PageTables.V, Basis: plan.CostMachine}, ""
	}
	c = plan.ConnCost{ServerUserKiB: max(0, b.ServerUserKiB.V), ServerKStackKiB: max(0, b.ServerKStack.V), Basis: plan.CostUserKStack}
	if a.ClientPSSKiB.Set && b.ClientPSSKiB.Set && b.ClientPSSKiB.V > a.ClientPSSKiB.V {
		c.ClientKiB = (b.ClientPSSKiB.V - a.ClientPSSKiB.V) / float64(b.Conns-a.Conns)
	}
	return c, why
}

// machineParts is the server's parts per connection at rb and the
// client's growth per connection from ra to rb, each floored at zero (a
// runtime may return memory to the kernel meanwhile); why is set when a
// run lacks a part.
func machineParts(ra, rb *results.Run) (srv, cli results.Costs, why string) {
	for _, r := range []*results.Run{ra, rb} {
		switch {
		case r == nil || r.Machine == nil:
			return srv, cli, "a calibration hold kept no machine record"
		case r.Attribution == nil:
			why = r.Machine.Detail
			if why == "" {
				why = "a calibration hold's machine record has no peak snapshot"
			}
			return srv, cli, why
		case !r.Attribution.Server.Sum().Set || !r.Attribution.Client.Sum().Set || !r.Attribution.Conns.Set:
			return srv, cli, "a part was not measured at a calibration hold"
		}
	}
	pa, pb := ra.Attribution, rb.Attribution
	if pb.Conns.V <= pa.Conns.V {
		return srv, cli, "the calibration holds held the same number of connections"
	}
	return pb.Server.Floor().Per(pb.Conns.V), pb.Client.Minus(pa.Client).Floor().Per(pb.Conns.V - pa.Conns.V), ""
}
