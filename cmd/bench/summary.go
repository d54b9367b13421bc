package main

import (
	"fmt"
	"io"
	"strings"
)

// summary prints a scenario's figures against their targets, one row each.
type summary struct{ w io.Writer }

func newSummary(w io.Writer, scenario string) summary {
	fmt.Fprintf(w, "\n== Summary: %s\n", scenario)
	s := summary{w}
	s.row("figure", "value", "target", "")
	return s
}

func (s summary) row(name, value, target, verdict string) {
	fmt.Fprintf(s.w, "  %-44s %-12s %-10s %s\n", name, value, target, verdict)
}

// writePhaseRows are the rows of one measured phase of a write under contention
// (certify, swap): its rate against pgbench, latencies, lock waits and document size.
func (s summary) writePhaseRows(b *baseline, short, per string, rate float64, l *loadResult, waits *waitSampler, doc string, docBytes float64) {
	s.row(short+": "+per+"/s", fmt.Sprintf("%.1f", rate), "", "")
	s.row(short+": ratio to pgbench tps", fmt.Sprintf("%.3f", ratio(rate, b.tps)), "", "")
	if c := cpuCostRatio(b, l); c > 0 {
		s.row(short+":   CPU-cost ratio", fmt.Sprintf("%.3f", c), "", "estimate, less disturbed by other load")
	}
	s.row(short+": latency p50", ms(percentile(l.all, .5)), "", "")
	s.row(short+": latency p95", ms(percentile(l.all, .95)), "", "")
	s.row(short+": latency p99", ms(percentile(l.all, .99)), "", "")
	s.row(short+": backends waiting for a lock", fmt.Sprintf("%.1f", waits.lockWaits()), "", "mean of 100 ms samples")
	s.row(short+": mean "+doc+" size", fmt.Sprintf("%.0f bytes", docBytes), "", "")
}

// verdict marks a figure against its target.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// check marks a condition of a valid run.
func check(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

// phaseLoad is the CPU a phase of ours used, to tell how much other processes took.
type phaseLoad struct {
	name string
	cpu  cpuUsage
	ours float64 // CPU-seconds of our processes in the phase
}

// warnOtherLoad warns when processes outside the run took more than a tenth of the
// machine during a phase.
func warnOtherLoad(w io.Writer, phases ...phaseLoad) {
	var parts []string
	busy := false
	for _, p := range phases {
		share := otherShare(p.cpu, p.ours)
		busy = busy || share > 0.1
		parts = append(parts, fmt.Sprintf("%.0f%% during %s", 100*share, p.name))
	}
	if busy {
		fmt.Fprintf(w, "\nWARNING: other processes used %s;\n"+
			"         throughput, latency and the ratios are disturbed (the CPU-cost ratio much less so).\n", strings.Join(parts, " and "))
	}
}

// printResult ends a summary: whether the run itself worked, whatever the figures.
func printResult(w io.Writer, failed bool, why string) {
	if failed {
		fmt.Fprintf(w, "\nRESULT: the run FAILED (%s); the figures are not valid\n", why)
	} else {
		fmt.Fprintf(w, "\nRESULT: run complete\n")
	}
}
