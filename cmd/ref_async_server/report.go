package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"time"

	"tenkthreads/internal/srvreport"
)

// sampleKernelStack keeps the peak of the system's KernelStack, which the
// figure at report time misses once short-lived threads have gone.
func (s *server) sampleKernelStack() {
	t := time.NewTicker(kernelStackTick)
	defer t.Stop()
	for range t.C {
		ks, err := srvreport.ReadKernelStack()
		if err != nil {
			continue
		}
		for {
			p := s.peakKS.Load()
			if ks <= p || s.peakKS.CompareAndSwap(p, ks) {
				break
			}
		}
	}
}

// samplePSS keeps the peak of the PSS sum of this process and its -P
// workers: no kernel counter keeps one for a group, and by the exit
// report the connections' memory is gone. Samples start pssSpacing times
// as far apart as the last one took, and at least kernelStackTick apart.
func (s *server) samplePSS() {
	for {
		t0 := time.Now()
		s.pssSample()
		every := max(kernelStackTick, pssSpacing*time.Since(t0))
		s.pssEveryMS.Store(every.Milliseconds())
		time.Sleep(time.Until(t0.Add(every)))
	}
}

// pssSample adds one sample to the peak.
func (s *server) pssSample() {
	sum, _ := srvreport.ReadPSS(os.Getpid())
	for _, pid := range s.workers.live() {
		if v, err := srvreport.ReadPSS(pid); err == nil {
			sum += v
		}
	}
	s.raisePSS(sum)
}

// raisePSS raises the peak to sum; a report's sum is a sample too.
func (s *server) raisePSS(sum int64) {
	for {
		p := s.peakPSS.Load()
		if sum <= p || s.peakPSS.CompareAndSwap(p, sum) {
			return
		}
	}
}

var reportMu sync.Mutex

// build gathers a report across all processes.
func (s *server) build(event string) srvreport.Report {
	goroutines := int64(runtime.NumGoroutine())
	for i := 0; i < s.procs && s.workers != nil; i++ {
		goroutines += s.c.goroutines[i].Load()
	}
	r := srvreport.Report{
		Server:                  prog,
		Model:                   "goroutine",
		ServerProcs:             int64(s.procs),
		Address:                 s.addr,
		Event:                   event,
		Backlog:                 s.backlog,
		FDLimit:                 s.fdLimit,
		UptimeS:                 time.Since(s.start).Seconds(),
		StartRSSKiB:             s.startRSS,
		StartPSSKiB:             s.startPSS,
		Goroutines:              goroutines,
		MaxConc:                 s.c.maxConc.Load(),
		Total:                   s.c.total.Load(),
		Now:                     s.c.now.Load(),
		BytesEchoed:             s.c.bytes.Load(),
		Resets:                  s.c.resets.Load(),
		AcceptErrors:            s.c.acceptErrors.Load(),
		MaxConns:                s.maxConns,
		OverCap:                 s.c.overCap.Load(),
		IdleTimeoutS:            int64(s.idle / time.Second),
		IdleTimeouts:            s.c.timeouts.Load(),
		RequestDelayUS:          int64(s.delay / time.Microsecond),
		RequestWorkUS:           int64(s.work / time.Microsecond),
		MaxWaiting:              s.c.maxWaiting.Load(),
		KernelStackStartKiB:     s.startKS,
		KernelStackPeakDeltaKiB: s.peakKS.Load() - s.startKS,
		SlabStartKiB:            s.startSlab,
		PageTablesStartKiB:      s.startPT,
		PSSSumPeakKiB:           s.peakPSS.Load(),
		PSSSampleMS:             s.pssEveryMS.Load(),
	}
	s.budgetFigures(&r)
	if err := r.FillSystem(s.workers.live()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: report incomplete: %v\n", prog, err)
	}
	if s.workers != nil {
		s.raisePSS(r.PSSSumPeakKiB)
	}
	return r
}

// report prints the report to stdout and, with -j, rewrites the JSON file.
// It returns false if the JSON file could not be written.
func (s *server) report(event string) bool {
	reportMu.Lock()
	defer reportMu.Unlock()
	r := s.build(event)
	// JSON first: whoever has read the text must find this event's JSON,
	// not the previous one's.
	ok := s.writeJSON(r)
	os.Stdout.WriteString(r.Text())
	return ok
}

func (s *server) writeJSON(r srvreport.Report) bool {
	if s.jsonPath == "" {
		return true
	}
	if err := r.WriteJSONFile(s.jsonPath); err != nil {
		// Named by the -j path, as the C server's warn(3) does, not by
		// the temporary file beside it.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		fmt.Fprintf(os.Stderr, "%s: %s: %v\n", prog, s.jsonPath, err)
		return false
	}
	return true
}
