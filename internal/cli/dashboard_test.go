package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium"

// TestDashboardInChromium runs a scenario with --listen and opens the live
// dashboard in Debian's Chromium while it runs: the page must show figures
// that change as intervals close (the request count grows, the latency is
// the fixture's), the observed series, and, once the run ends, a link to
// the final report that leads to it. /metrics must count what the report
// counts.
//
// Not parallel: Chromium is a heavy process of its own, kept apart
// from the parallel tests, which time targets in this process.
func TestDashboardInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("LOADGATE_REQUIRE_BROWSER") == "1" {
			t.Fatal("Chromium is not at " + chromium + ": make browser installs it")
		}
		t.Skip("no Chromium at " + chromium)
	}
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(sc, []byte(`name: live
target: {base_url: embedded}
auth: {type: bearer, token: ak_7D8sF3gT6hJ9kL2qW4eR5tY7uI8oP0z}
fixture: {workers: 4, latency: {fixed: 20ms}}
requests: [{name: ping, path: /v1/ping}]
stages: [{duration: 3s, rate: 50/s}]
report: {interval: 250ms}
observe:
  scrape: [{name: crm, url: embedded}]
  series: {workers: crm_workers}
thresholds: [p95 < 1s]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := Run(context.Background(), testEnv(io.Discard, pw, nil),
			[]string{"run", sc, "--out", out, "-q", "--listen", "127.0.0.1:0", "--listen-linger", "3s"})
		pw.Close()
		done <- code
	}()
	addr := ""
	sc2 := bufio.NewScanner(pr)
	for sc2.Scan() {
		if m := regexp.MustCompile(`live dashboard at http://([^/]+)/`).FindStringSubmatch(sc2.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		t.Fatal("no dashboard address printed")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	read := func(js string) string {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	var counts []int
	for deadline := time.Now().Add(20 * time.Second); len(counts) < 3 && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		n, _ := strconv.Atoi(read(`document.getElementById("requests").textContent`))
		if n > 0 && (len(counts) == 0 || n > counts[len(counts)-1]) {
			counts = append(counts, n)
		}
	}
	if len(counts) < 3 {
		t.Fatalf("the request count did not grow while the run went on: %v", counts)
	}
	if p95 := read(`document.getElementById("p95").textContent`); !strings.HasSuffix(p95, "ms") {
		t.Errorf("p95 shows %q", p95)
	}
	if obs := read(`document.getElementById("observed").textContent`); !strings.Contains(obs, "workers4") {
		t.Errorf("observed series show %q, want workers 4", obs)
	}
	if th := read(`document.getElementById("thresholds").textContent`); !strings.Contains(th, "p95 < 1s") {
		t.Errorf("thresholds show %q", th)
	}
	// The end: the page links the final report, which is served.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if read(`String(!document.getElementById("report").hidden)`) == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report link after the run; status %q", read(`document.getElementById("status").textContent`))
		}
	}
	if st := read(`document.getElementById("status").textContent`); st != "ended: pass" {
		t.Errorf("status %q, want ended: pass", st)
	}
	resp, err := http.Get("http://" + addr + "/report/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<html") || !strings.Contains(string(body), "live") {
		t.Errorf("/report/ is not the run's report.html (%d bytes)", len(body))
	}
	metrics, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if code := <-done; code != ExitPass {
		t.Fatalf("exit %d", code)
	}
	r := readReport(t, out)
	want := `loadgate_tries_total{request="ping",status_class="2xx"} ` + strconv.FormatUint(r.Totals.Requests, 10)
	if !strings.Contains(string(mb), want) {
		t.Errorf("/metrics lacks %q (the report's count):\n%s", want, grepLines(string(mb), "loadgate_tries_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
