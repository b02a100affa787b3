// Command peers benchmarks loadgate against vegeta, hey and wrk side by
// side: the same target (nginx on loopback), the same duration and
// concurrency, alternating tools over several rounds. It prints requests
// per second, p50, p99 and peak RSS for each tool and loadgate's ratios to
// the others, and writes a Markdown report. `make bench` runs it.
//
// With -memory it instead runs loadgate alone at a fixed rate, samples its
// RSS every second, and reports how flat it stayed and the bytes per
// result on disk.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loadgate/loadgate/internal/results"
)

type options struct {
	loadgate, vegeta, hey, wrk string
	url                        string
	duration                   time.Duration
	workers, rounds            int
	out, work                  string
	gobench                    string
	memory                     bool
	rate                       int
}

// sample is one tool's figures in one round.
type sample struct {
	rps, p50, p99 float64 // per second; milliseconds
	rssKB         int64
}

func main() {
	var o options
	flag.StringVar(&o.loadgate, "loadgate", "bin/loadgate", "loadgate binary")
	flag.StringVar(&o.vegeta, "vegeta", "vegeta", "vegeta CLI")
	flag.StringVar(&o.hey, "hey", "hey", "hey")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk")
	flag.StringVar(&o.url, "url", "http://127.0.0.1:18080/ok", "target URL (loopback only)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each tool's run")
	flag.IntVar(&o.workers, "workers", 50, "concurrent workers / connections")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds, each running every tool once")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "Markdown report to write")
	flag.StringVar(&o.work, "work", "", "scratch folder (default: a temporary one)")
	flag.StringVar(&o.gobench, "gobench", "", "a file of 'go test -bench' output to include in the report")
	flag.BoolVar(&o.memory, "memory", false, "measure loadgate's memory over a long run at -rate instead")
	flag.IntVar(&o.rate, "rate", 1000, "with -memory: requests per second")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "peers: error:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if !strings.HasPrefix(o.url, "http://127.0.0.1:") && !strings.HasPrefix(o.url, "http://[::1]:") {
		return fmt.Errorf("target %s is not on loopback", o.url)
	}
	if o.work == "" {
		d, err := os.MkdirTemp("", "loadgate-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.work = d
	}
	if o.memory {
		return memory(o)
	}
	tools := []struct {
		name string
		run  func(o *options, round int) (sample, error)
	}{{"loadgate", runLoadgate}, {"vegeta", runVegeta}, {"hey", runHey}, {"wrk", runWrk}}
	got := map[string][]sample{}
	for round := 1; round <= o.rounds; round++ {
		for _, t := range tools {
			s, err := t.run(o, round)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, t.name, err)
			}
			fmt.Printf("round %d  %-9s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  peak RSS %6.1f MB\n",
				round, t.name, s.rps, s.p50, s.p99, float64(s.rssKB)/1024)
			got[t.name] = append(got[t.name], s)
		}
	}
	med := map[string]sample{}
	for name, ss := range got {
		med[name] = median(ss)
	}
	speed, err := reportSpeed(o)
	if err != nil {
		return fmt.Errorf("report speed: %w", err)
	}
	var b strings.Builder
	writeReport(&b, o, med, got)
	b.WriteString(speed)
	fmt.Print("\n" + b.String())
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}

func median(ss []sample) sample {
	pick := func(f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{
		rps: pick(func(s sample) float64 { return s.rps }), p50: pick(func(s sample) float64 { return s.p50 }),
		p99: pick(func(s sample) float64 { return s.p99 }), rssKB: int64(pick(func(s sample) float64 { return float64(s.rssKB) })),
	}
}

// measure runs a command and returns its output and peak RSS.
func measure(name string, args ...string) ([]byte, int64, error) {
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("%s: %v: %s", name, err, lastLines(errb.String(), 5))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // kilobytes on Linux
	}
	return out.Bytes(), rss, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

const scenarioText = `name: bench
description: loadgate with full measurement on (attribution, checks, phase timings, raw results)
target: {base_url: "%s"}
requests:
  - name: ok
    path: %s
    expect:
      status: [200]
      json: [{path: code, equals: 0}]
stages: [{duration: %s, concurrency: %d}]
`

func runLoadgate(o *options, round int) (sample, error) {
	base, path := splitURL(o.url)
	sc := filepath.Join(o.work, "bench.yaml")
	if err := os.WriteFile(sc, []byte(fmt.Sprintf(scenarioText, base, path, o.duration, o.workers)), 0o644); err != nil {
		return sample{}, err
	}
	dir := filepath.Join(o.work, fmt.Sprint("loadgate-", round))
	_, rss, err := measure(o.loadgate, "run", sc, "--out", dir)
	if err != nil {
		return sample{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return sample{}, err
	}
	var r struct {
		Totals struct {
			Requests  uint64  `json:"requests"`
			Successes uint64  `json:"successes"`
			Rate      float64 `json:"rate_rps"`
		} `json:"totals"`
		Latency struct{ P50, P99 float64 } `json:"latency_ms"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return sample{}, err
	}
	if r.Totals.Successes != r.Totals.Requests {
		return sample{}, fmt.Errorf("%d of %d requests failed their checks", r.Totals.Requests-r.Totals.Successes, r.Totals.Requests)
	}
	return sample{rps: r.Totals.Rate, p50: r.Latency.P50, p99: r.Latency.P99, rssKB: rss}, nil
}

func splitURL(u string) (string, string) {
	i := strings.Index(u[len("http://"):], "/")
	if i < 0 {
		return u, "/"
	}
	return u[:len("http://")+i], u[len("http://")+i:]
}

func runVegeta(o *options, round int) (sample, error) {
	targets := filepath.Join(o.work, "targets.txt")
	if err := os.WriteFile(targets, []byte("GET "+o.url+"\n"), 0o644); err != nil {
		return sample{}, err
	}
	raw := filepath.Join(o.work, fmt.Sprintf("vegeta-%d.gob", round))
	w := strconv.Itoa(o.workers)
	_, rss, err := measure(o.vegeta, "attack", "-targets", targets, "-rate", "0", "-workers", w, "-max-workers", w,
		"-duration", o.duration.String(), "-output", raw)
	if err != nil {
		return sample{}, err
	}
	out, _, err := measure(o.vegeta, "report", "-type", "json", raw)
	if err != nil {
		return sample{}, err
	}
	var r struct {
		Rate      float64 `json:"rate"`
		Latencies struct {
			P50 float64 `json:"50th"`
			P99 float64 `json:"99th"`
		} `json:"latencies"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return sample{}, err
	}
	return sample{rps: r.Rate, p50: r.Latencies.P50 / 1e6, p99: r.Latencies.P99 / 1e6, rssKB: rss}, nil
}

var (
	heyRPS = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	heyPct = regexp.MustCompile(`(?m)^\s+(\d+)% in ([\d.]+) secs`)
)

func runHey(o *options, _ int) (sample, error) {
	out, rss, err := measure(o.hey, "-z", o.duration.String(), "-c", strconv.Itoa(o.workers), o.url)
	if err != nil {
		return sample{}, err
	}
	s := sample{rssKB: rss}
	m := heyRPS.FindSubmatch(out)
	if m == nil {
		return s, errors.New("no Requests/sec in hey's output")
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, p := range heyPct.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(p[2]), 64)
		switch string(p[1]) {
		case "50":
			s.p50 = v * 1e3
		case "99":
			s.p99 = v * 1e3
		}
	}
	return s, nil
}

var (
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
)

func runWrk(o *options, _ int) (sample, error) {
	threads := strconv.Itoa(runtime.NumCPU())
	out, rss, err := measure(o.wrk, "-t", threads, "-c", strconv.Itoa(o.workers), "-d", o.duration.String(), "--latency", o.url)
	if err != nil {
		return sample{}, err
	}
	s := sample{rssKB: rss}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return s, errors.New("no Requests/sec in wrk's output")
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, p := range wrkPct.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(p[2]), 64)
		v *= map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3}[string(p[3])]
		if string(p[1]) == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	return s, nil
}

func machine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPUs: %d (%s)\n", runtime.NumCPU(), cpuModel())
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		fmt.Fprintf(&b, "- kernel: %s\n", strings.TrimSpace(string(out)))
	}
	fmt.Fprintf(&b, "- Go: %s\n", runtime.Version())
	for _, c := range [][]string{{"nginx", "-v"}, {"hey", "-h"}, {"wrk", "-v"}} {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		line := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
		if c[0] == "hey" {
			line = "hey (Debian package)"
		}
		fmt.Fprintf(&b, "- %s: %s\n", c[0], line)
	}
	return b.String()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func writeReport(b *strings.Builder, o *options, med map[string]sample, all map[string][]sample) {
	fmt.Fprintf(b, "# Benchmark results\n\nWritten by `make bench` on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(b, "Each tool ran %s at %d concurrent workers against nginx on loopback (`%s`), the tools alternating, %d rounds; figures are the median of the rounds. The target and the generator share the machine.\n\n", o.duration, o.workers, o.url, o.rounds)
	b.WriteString("## Machine\n\n" + machine() + "\n")
	b.WriteString("## Side by side\n\n| tool | requests/s | p50 (ms) | p99 (ms) | peak RSS (MB) | rounds (requests/s) |\n|---|---:|---:|---:|---:|---|\n")
	for _, name := range []string{"loadgate", "vegeta", "hey", "wrk"} {
		s := med[name]
		var rounds []string
		for _, r := range all[name] {
			rounds = append(rounds, fmt.Sprintf("%.0f", r.rps))
		}
		fmt.Fprintf(b, "| %s | %.0f | %.3f | %.3f | %.1f | %s |\n", name, s.rps, s.p50, s.p99, float64(s.rssKB)/1024, strings.Join(rounds, ", "))
	}
	lg := med["loadgate"]
	b.WriteString("\n## Ratios (loadgate / peer, requests per second)\n\n| peer | ratio | target |\n|---|---:|---|\n")
	for _, p := range []struct{ name, target string }{{"vegeta", ">= 1.30"}, {"hey", ">= 1.20"}, {"wrk", "(reference; stretch 0.85)"}} {
		fmt.Fprintf(b, "| %s | %.2f | %s |\n", p.name, lg.rps/med[p.name].rps, p.target)
	}
	b.WriteString("\nloadgate ran with full measurement on: per-request attribution, a status and a JSON check on every response, DNS/connect/TLS/time-to-first-byte tracing, the time series, the request log and raw results (results.lgr). vegeta ran `vegeta attack` writing its gob results, then `vegeta report`; hey and wrk their defaults.\n")
	if o.gobench != "" {
		if gb, err := os.ReadFile(o.gobench); err == nil {
			b.WriteString("\n## Hot path (go test -bench)\n\n```\n")
			for _, line := range strings.Split(string(gb), "\n") {
				if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") {
					b.WriteString(line + "\n")
				}
			}
			b.WriteString("```\n")
		}
	}
}

// memory runs loadgate alone at a fixed rate and samples its RSS.
func memory(o *options) error {
	sc, err := writeMemoryScenario(o)
	if err != nil {
		return err
	}
	dir := filepath.Join(o.work, "memory-run")
	pts, err := sampleRSS(exec.Command(o.loadgate, "run", sc, "--out", dir))
	if err != nil {
		return err
	}
	if len(pts) < 3 {
		return errors.New("too few samples")
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return err
	}
	var r struct {
		Totals struct {
			Requests uint64 `json:"requests"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(dir, "results.lgr"))
	if err != nil {
		return err
	}
	out := memoryReport(o, pts, r.Totals.Requests, st.Size())
	fmt.Print(out)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(out), 0o644)
	}
	return nil
}

// writeMemoryScenario writes the scenario of the memory run into the work
// folder and returns its path.
func writeMemoryScenario(o *options) (string, error) {
	base, path := splitURL(o.url)
	sc := filepath.Join(o.work, "memory.yaml")
	text := fmt.Sprintf(`name: memory
target: {base_url: "%s"}
requests:
  - name: ok
    path: %s
    expect: {status: [200], json: [{path: code, equals: 0}]}
stages: [{duration: %s, rate: %d/s}]
`, base, path, o.duration, o.rate)
	if err := os.WriteFile(sc, []byte(text), 0o644); err != nil {
		return "", err
	}
	return sc, nil
}

// rssPoint is one RSS sample: t after the start.
type rssPoint struct {
	t   time.Duration
	rss int64 // KB
}

// sampleRSS runs cmd, its output discarded, and samples its RSS every
// second until it exits.
func sampleRSS(cmd *exec.Cmd) ([]rssPoint, error) {
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var pts []rssPoint
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return nil, fmt.Errorf("loadgate: %w", err)
			}
			return pts, nil
		case <-tick.C:
			if kb, err := rssKB(cmd.Process.Pid); err == nil {
				pts = append(pts, rssPoint{time.Since(start), kb})
			}
		}
	}
}

// rssAt is the RSS of the first sample at or after d, or of the last.
func rssAt(pts []rssPoint, d time.Duration) int64 {
	for _, p := range pts {
		if p.t >= d {
			return p.rss
		}
	}
	return pts[len(pts)-1].rss
}

// memoryReport is MEMORY.md: how flat RSS stayed over the run of requests
// that wrote lgrBytes of raw results.
func memoryReport(o *options, pts []rssPoint, requests uint64, lgrBytes int64) string {
	var peak int64
	for _, p := range pts {
		peak = max(peak, p.rss)
	}
	oneMin := rssAt(pts, time.Minute)
	// The last sample while the load still ran (before the report is
	// written at the end).
	end := rssAt(pts, o.duration-time.Second)
	var out strings.Builder
	fmt.Fprintf(&out, "# Memory over a long run\n\nWritten by `make bench-memory` on %s: loadgate at %d requests/s for %s against nginx on loopback, full measurement on; RSS sampled every second.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), o.rate, o.duration)
	fmt.Fprintf(&out, "| figure | value |\n|---|---:|\n")
	fmt.Fprintf(&out, "| requests | %d |\n| RSS after 1 minute | %.1f MB |\n| RSS at the end of the load (%s) | %.1f MB |\n| end / 1 minute | %.3f |\n| peak RSS | %.1f MB |\n| results.lgr | %d bytes, %.1f bytes per result |\n",
		requests, float64(oneMin)/1024, o.duration, float64(end)/1024, float64(end)/float64(oneMin), float64(peak)/1024,
		lgrBytes, float64(lgrBytes)/float64(requests))
	out.WriteString("\nRSS by minute:\n\n| minute | RSS (MB) |\n|---:|---:|\n")
	for m := time.Duration(0); m <= o.duration; m += time.Minute {
		fmt.Fprintf(&out, "| %d | %.1f |\n", int(m.Minutes()), float64(rssAt(pts, m))/1024)
	}
	return out.String()
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// reportSpeed writes a million results as results.lgr and as vegeta's gob,
// and times loadgate's report on each against vegeta's on the gob.
func reportSpeed(o *options) (string, error) {
	const n = 1_000_000
	lgr := filepath.Join(o.work, "million.lgr")
	gob := filepath.Join(o.work, "million.gob")
	f, err := os.Create(lgr)
	if err != nil {
		return "", err
	}
	w, err := results.NewWriter(f, results.Header{Scenario: "million", Started: time.Now(),
		Requests: []results.Request{{Name: "list", Method: "GET", URL: o.url}, {Name: "create", Method: "POST", URL: o.url}}})
	if err != nil {
		return "", err
	}
	t := time.Now()
	for i := range n {
		r := results.Result{Request: i % 2, Timestamp: t.Add(time.Duration(i) * 20 * time.Microsecond),
			Latency: time.Duration(200+(i*7919)%5000) * time.Microsecond, Code: 200, BytesIn: 10}
		if i%100 == 0 {
			r.Code, r.Error = 503, "503 Service Unavailable"
		}
		if err := w.Write(&r); err != nil {
			return "", err
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return "", err
	}
	src := &results.File{Path: lgr}
	defer src.Close()
	out, err := os.Create(gob)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	if _, err := results.Export(src.Open, bw, results.FormatGob); err != nil {
		return "", err
	}
	if err := errors.Join(bw.Flush(), out.Close()); err != nil {
		return "", err
	}
	timeIt := func(name string, args ...string) (time.Duration, error) {
		var best time.Duration
		for range 3 {
			start := time.Now()
			if _, _, err := measure(name, args...); err != nil {
				return 0, err
			}
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		return best, nil
	}
	lgLGR, err := timeIt(o.loadgate, "report", lgr)
	if err != nil {
		return "", err
	}
	lgGob, err := timeIt(o.loadgate, "report", gob)
	if err != nil {
		return "", err
	}
	vgGob, err := timeIt(o.vegeta, "report", gob)
	if err != nil {
		return "", err
	}
	lst, _ := os.Stat(lgr)
	gst, _ := os.Stat(gob)
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Report speed (one million results, best of 3)\n\n| command | file | seconds | vegeta report / this |\n|---|---|---:|---:|\n")
	fmt.Fprintf(&b, "| loadgate report | results.lgr (%.1f MB) | %.3f | %.1f |\n", float64(lst.Size())/1e6, lgLGR.Seconds(), vgGob.Seconds()/lgLGR.Seconds())
	fmt.Fprintf(&b, "| loadgate report | the same results as vegeta gob (%.1f MB) | %.3f | %.1f |\n", float64(gst.Size())/1e6, lgGob.Seconds(), vgGob.Seconds()/lgGob.Seconds())
	fmt.Fprintf(&b, "| vegeta report | the same vegeta gob | %.3f | 1.0 |\n", vgGob.Seconds())
	return b.String(), nil
}
