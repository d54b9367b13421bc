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
