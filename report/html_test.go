package report

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/report/chart"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// Test data shared by the HTML, Markdown and browser tests.
const (
	scriptBody = `<script>window.pwned=1</script>`
	// hostileURL would close the attribute and open a tag if it were
	// written into the page unescaped.
	hostileURL = `https://api.example.test/items?q="><img src=x onerror="window.pwned=2">&x=<b>`
)

// stripeColours are the test plots' colours; the browser test looks for
// them in its screenshot to prove the plots were painted.
var stripeColours = []color.RGBA{
	{R: 220, G: 40, B: 40, A: 255},
	{R: 40, G: 160, B: 60, A: 255},
	{R: 40, G: 90, B: 210, A: 255},
	{R: 240, G: 180, B: 20, A: 255},
}

// stripePNG draws a w×h PNG of vertical stripes, starting at colour first,
// standing in for a plot because report/chart is written separately.
func stripePNG(tb testing.TB, w, h, first int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	stripe := w / 8
	for x := range w {
		c := stripeColours[(first+x/stripe)%len(stripeColours)]
		for y := range h {
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatalf("encode test png: %v", err)
	}
	return buf.Bytes()
}

func testCharts(tb testing.TB, n int) []chart.Image {
	tb.Helper()
	names := []string{"latency", "throughput", "errors", "status"}
	titles := []string{"Latency over time", "Throughput against target", "Error rates by class", "Status codes"}
	out := make([]chart.Image, n)
	for i := range out {
		out[i] = chart.Image{Name: names[i%len(names)], Title: titles[i%len(titles)], PNG: stripePNG(tb, 400, 200, i)}
	}
	return out
}

// testReport is a hand-built report with a failing and a passing
// threshold, two requests and failing examples with hostile content.
func testReport(name string) *Report {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	target := 50.0
	get := RequestSummary{
		Method: "GET", Path: "/items/{id}",
		Totals: Totals{
			Requests: 1200, Successes: 1164, Failures: 36, LogicalRequests: 1180,
			RateRPS: 20, ThroughputRPS: 19.4, SuccessRate: 1164.0 / 1180, ErrorRate: 16.0 / 1180, Rate4xx: 0.01, Rate5xx: 0.0167,
			StatusCodes: map[string]uint64{"200": 1164, "404": 12, "503": 20, "429": 4}, Errors: map[string]uint64{},
			ErrorClasses: map[string]uint64{"network": 0, "protocol": 12, "business": 0, "system": 24},
			ProtocolRate: 12.0 / 1180, SystemRate: 24.0 / 1180,
		},
		Latency: Latency{Min: 3.1, Mean: 48.2, StdDev: 31.7, P50: 41, P90: 88, P95: 120.5, P99: 310, P999: 640, Max: 702.4},
		Examples: []Example{
			{RequestID: "req-0001", Class: "system", Status: 503, Why: "status 503 is not expected", URL: hostileURL, Body: scriptBody, Truncated: true},
			{RequestID: "req-0002", Class: "protocol", Status: 404, URL: "https://api.example.test/items/42", Body: `{"error":"not found"}`},
		},
	}
	post := RequestSummary{
		Method: "POST", Path: "/orders",
		Totals: Totals{
			Requests: 600, Successes: 570, Failures: 30, LogicalRequests: 590,
			RateRPS: 10, ThroughputRPS: 9.5, SuccessRate: 570.0 / 590, ErrorRate: 20.0 / 590,
			StatusCodes: map[string]uint64{"201": 570, "422": 20}, Errors: map[string]uint64{"timeout": 10},
			ErrorClasses: map[string]uint64{"network": 10, "protocol": 0, "business": 20, "system": 0},
			NetworkRate:  10.0 / 590, BusinessRate: 20.0 / 590,
			ErrorCodes: map[string]uint64{"OUT_OF_STOCK": 14, "CARD_DECLINED": 6},
		},
		Latency: Latency{Min: 12, Mean: 95.5, StdDev: 60.2, P50: 80, P90: 170, P95: 230, P99: 880, P999: 1500, Max: 2100},
		Checks: []Check{
			{Name: "order id present", Checked: 570, Failed: 0},
			{Name: "status is confirmed", Checked: 590, Failed: 20, FailureRate: 20.0 / 590},
		},
		Examples: []Example{
			{RequestID: "req-0107", Class: "business", Status: 422, Why: `check "status is confirmed" failed`, URL: "https://api.example.test/orders", Body: `{"code":"OUT_OF_STOCK"}`},
			{RequestID: "req-0150", Class: "network", Error: "Post \"https://api.example.test/orders\": context deadline exceeded", URL: "https://api.example.test/orders"},
		},
	}
	return &Report{
		SchemaVersion: SchemaVersion,
		Scenario: ScenarioInfo{
			Name: name, Description: "Browse items and place orders at the usual mix.",
			File: "scenarios/" + name + ".yaml", Target: "https://api.example.test", Environment: "staging",
		},
		StartedAt: start, EndedAt: start.Add(60 * time.Second), DurationS: 60,
		Verdict: Fail,
		Totals: Totals{
			Requests: 1800, Successes: 1734, Failures: 36, LogicalRequests: 1770,
			RateRPS: 30, ThroughputRPS: 28.9, TargetRateRPS: &target, SuccessRate: 1734.0 / 1770, ErrorRate: 36.0 / 1770,
			Rate4xx: 36.0 / 1800, Rate5xx: 20.0 / 1800, NetworkRate: 10.0 / 1770, ProtocolRate: 12.0 / 1770,
			BusinessRate: 20.0 / 1770, SystemRate: 24.0 / 1770, TimeoutRate: 10.0 / 1770, Timeouts: 10, WindowS: 60,
			StatusCodes:  map[string]uint64{"200": 1164, "201": 570, "404": 12, "422": 20, "429": 4, "503": 20},
			Errors:       map[string]uint64{"timeout": 10},
			ErrorClasses: map[string]uint64{"network": 10, "protocol": 12, "business": 20, "system": 24},
			ErrorCodes:   map[string]uint64{"OUT_OF_STOCK": 14, "CARD_DECLINED": 6},
			BytesIn:      2_400_000, BytesOut: 310_000,
			Retries: 30, RetryAmplification: 1800.0 / 1770, RetriedRequests: 24, SucceededAfter: 18,
			RetryCauses: map[string]uint64{"503": 20, "timeout": 10},
			Groups: map[string]Group{
				"tenant-a": {Requests: 900, Errors: 10, ErrorRate: 10.0 / 900, ErrorClasses: map[string]uint64{"system": 10}, StatusCodes: map[string]uint64{"200": 890, "503": 10}},
				"tenant-b": {Requests: 870, Errors: 26, ErrorRate: 26.0 / 870, ErrorClasses: map[string]uint64{"business": 20, "system": 6}, StatusCodes: map[string]uint64{"201": 844, "422": 20, "503": 6}},
			},
		},
		Latency:    Latency{Min: 3.1, Mean: 63.9, StdDev: 48.8, P50: 52, P90: 130, P95: 180.25, P99: 640, P999: 1400, Max: 2100},
		E2ELatency: &Latency{P50: 55, P95: 210, P99: 900, Max: 2500},
		Requests:   map[string]RequestSummary{"get-item": get, "create-order": post},
		Stages: []StageSummary{
			{Name: "warm-up", Model: "open", DurationS: 10, ElapsedS: 10, Rate: 5, RampTo: 30, Totals: Totals{Requests: 175}, Latency: Latency{P95: 90}},
			{Name: "steady", Model: "open", DurationS: 40, ElapsedS: 40, Rate: 30, RampTo: 30, Totals: Totals{Requests: 1200, ErrorRate: 0.02}, Latency: Latency{P95: 190}},
			{Name: "soak", Model: "closed", DurationS: 10, ElapsedS: 10, Concurrency: 8, Totals: Totals{Requests: 425, ErrorRate: 0.03}, Latency: Latency{P95: 210}},
		},
		Thresholds: []ThresholdResult{
			{Expr: "p95 < 150ms", Metric: "p95", Op: "<", Limit: 150, Actual: 180.25, Pass: false, LimitText: "150ms", ActualText: "180.25ms",
				Detail: "worst window 00:40–00:50 at 240ms"},
			{Expr: "error_rate < 5%", Metric: "error_rate", Op: "<", Limit: 0.05, Actual: 36.0 / 1770, Pass: true, LimitText: "5%", ActualText: "2.034%"},
			{Expr: "p99{request=missing} < 1s", Metric: "p99", Request: "missing", Op: "<", Limit: 1000, Actual: math.NaN(), Pass: false, LimitText: "1s", ActualText: "n/a"},
		},
		Meta:       Meta{LoadgateVersion: "v0.4.0-test", GoVersion: "go1.26.8", Host: "ci-runner-7", OS: "linux", Arch: "amd64", CPUs: 8},
		Auth:       &AuthSummary{Type: "oauth2", TokenRequests: 3, TokenFailures: 0, ForcedRefreshes: 1, MeanMS: 42.5, MaxMS: 60},
		RequestLog: &LogSummary{File: "requests.jsonl", Lines: 250, Dropped: 12, CapBytes: 1 << 20, Sample: 10},
		Notes:      []string{"think_time is ignored by open-model stages"},
	}
}

func passingReport(name string) *Report {
	r := testReport(name)
	r.Verdict = Pass
	r.Thresholds = r.Thresholds[1:2]
	return r
}

func renderHTML(tb testing.TB, p *Page) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, p); err != nil {
		tb.Fatalf("WriteHTML: %v", err)
	}
	return buf.String()
}

// htmlNode is one element of a parsed page, with the text directly in it.
type htmlNode struct {
	Name  string
	Attrs map[string]string
	Text  string
}

func (n htmlNode) hasClass(c string) bool {
	for _, f := range strings.Fields(n.Attrs["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

// parseHTML reads the page with encoding/xml in its lenient HTML mode (void
// elements closed automatically, HTML entities known), which is enough to
// prove the markup is well nested and to see attributes and text as a
// browser would after unescaping. It returns the elements in document
// order.
func parsePage(tb testing.TB, page string) []htmlNode {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var nodes []htmlNode
	var open []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("page does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := htmlNode{Name: strings.ToLower(tok.Name.Local), Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			nodes = append(nodes, n)
			open = append(open, len(nodes)-1)
		case xml.EndElement:
			if len(open) == 0 {
				tb.Fatalf("page closes %s that is not open", tok.Name.Local)
			}
			top := nodes[open[len(open)-1]]
			if top.Name != strings.ToLower(tok.Name.Local) {
				tb.Fatalf("page closes %s while %s is open", tok.Name.Local, top.Name)
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				nodes[open[len(open)-1]].Text += string(tok)
			}
		}
	}
	if len(open) != 0 {
		tb.Fatalf("page ends with %d elements open", len(open))
	}
	return nodes
}

// find returns the index of the first element matching f at or after
// from, or -1.
func findNode(nodes []htmlNode, from int, f func(htmlNode) bool) int {
	for i := from; i < len(nodes); i++ {
		if f(nodes[i]) {
			return i
		}
	}
	return -1
}

func nodeByID(id string) func(htmlNode) bool {
	return func(n htmlNode) bool { return n.Attrs["id"] == id }
}

func nodeByClass(name, class string) func(htmlNode) bool {
	return func(n htmlNode) bool { return n.Name == name && n.hasClass(class) }
}

// checkSelfContained fails when any src or href leaves the page, or when
// the page could run a script or fetch anything.
func checkSelfContained(t *testing.T, page string, nodes []htmlNode) {
	t.Helper()
	ids := map[string]bool{}
	for _, n := range nodes {
		if id := n.Attrs["id"]; id != "" {
			if ids[id] {
				t.Errorf("id %q is used twice", id)
			}
			ids[id] = true
		}
	}
	for _, n := range nodes {
		if n.Name == "script" || n.Name == "link" || n.Name == "iframe" || n.Name == "object" || n.Name == "embed" {
			t.Errorf("page has a <%s> element", n.Name)
		}
		for k, v := range n.Attrs {
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s> has an event handler attribute %s=%q", n.Name, k, v)
			}
		}
		if src, ok := n.Attrs["src"]; ok && !strings.HasPrefix(src, "data:image/png;base64,") {
			t.Errorf("<%s src=%q> is not a PNG data: URI", n.Name, src)
		}
		if href, ok := n.Attrs["href"]; ok {
			if !strings.HasPrefix(href, "#") {
				t.Errorf("<%s href=%q> is not an in-page link", n.Name, href)
			} else if !ids[href[1:]] {
				t.Errorf("<%s href=%q> points at no element", n.Name, href)
			}
		}
	}
	// The raw text as well, in case an attribute hid from the parser.
	if m := regexp.MustCompile(`(?i)\b(src|href|action|srcset|poster)\s*=\s*["']?\s*(https?:|//)`).FindString(page); m != "" {
		t.Errorf("page references an external resource: %s", m)
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "url(", "@import", "@font-face", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	csp := findNode(nodes, 0, func(n htmlNode) bool {
		return n.Name == "meta" && strings.EqualFold(n.Attrs["http-equiv"], "Content-Security-Policy")
	})
	if csp < 0 {
		t.Fatal("page has no Content-Security-Policy meta tag")
	}
	if c := nodes[csp].Attrs["content"]; !strings.Contains(c, "default-src 'none'") || !strings.Contains(c, "img-src data:") {
		t.Errorf("Content-Security-Policy %q is not strict", c)
	}
}

func TestWriteHTMLRun(t *testing.T) {
	t.Parallel()
	r := testReport("checkout")
	charts := testCharts(t, 3)
	page := renderHTML(t, &Page{Runs: []PageRun{{Report: r, Charts: charts, Dir: "20260301-120000-checkout"}}})
	nodes := parsePage(t, page)
	checkSelfContained(t, page, nodes)

	// The order of the section: verdict, thresholds, requests, plots,
	// errors and examples, scenario, run metadata.
	order := []struct {
		what string
		f    func(htmlNode) bool
	}{
		{"verdict", nodeByID("run-1-verdict")},
		{"thresholds table", nodeByClass("table", "thresholds")},
		{"requests table", nodeByClass("table", "requests")},
		{"plots", nodeByClass("div", "plots")},
		{"errors", nodeByID("run-1-errors")},
		{"examples", nodeByClass("div", "example")},
		{"scenario", nodeByClass("table", "scenario")},
		{"stages", nodeByClass("table", "stages")},
		{"run metadata", nodeByClass("table", "meta")},
	}
	at := 0
	for _, o := range order {
		i := findNode(nodes, at, o.f)
		if i < 0 {
			t.Fatalf("%s is missing or out of order (looked from element %d)", o.what, at)
		}
		at = i
	}
	if i := findNode(nodes, 0, nodeByClass("table", "suite-table")); i >= 0 {
		t.Error("a single-run page has a suite table")
	}

	v := nodes[findNode(nodes, 0, nodeByID("run-1-verdict"))]
	if !v.hasClass("v-fail") {
		t.Errorf("verdict block has class %q, want v-fail", v.Attrs["class"])
	}
	if w := nodes[findNode(nodes, 0, nodeByClass("span", "word"))]; w.Text != "FAIL" {
		t.Errorf("verdict word is %q, want FAIL", w.Text)
	}

	// Thresholds: the failing one in red, the passing one in green, and a
	// detail column because one has a detail.
	th := findNode(nodes, 0, nodeByClass("table", "thresholds"))
	if findNode(nodes, th, func(n htmlNode) bool { return n.Name == "th" && n.Text == "detail" }) < 0 {
		t.Error("thresholds table has no detail column")
	}
	if findNode(nodes, th, func(n htmlNode) bool { return n.Name == "td" && n.hasClass("fail") && n.Text == "FAIL" }) < 0 {
		t.Error("no failing threshold cell")
	}
	if findNode(nodes, th, func(n htmlNode) bool { return n.Name == "td" && n.hasClass("pass") && n.Text == "pass" }) < 0 {
		t.Error("no passing threshold cell")
	}
	for _, want := range []string{"worst window 00:40–00:50 at 240ms", "180.25ms", "p99{request=missing} &lt; 1s", "n/a"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// Per-request figures come from the same formatting as the terminal.
	rq := findNode(nodes, 0, nodeByClass("table", "requests"))
	for _, want := range []string{fmtMS(120.5), fmtMS(702.4), fmtRate(19.4), fmtPct(1164.0 / 1180), "all"} {
		if findNode(nodes, rq, func(n htmlNode) bool { return n.Name == "td" && n.Text == want }) < 0 {
			t.Errorf("requests table lacks a cell %q", want)
		}
	}
	if n := nodes[findNode(nodes, rq, func(n htmlNode) bool { return n.Name == "td" && n.Text == fmtMS(120.5) })]; !n.hasClass("num") {
		t.Error("numbers are not right-aligned")
	}

	// Plots: one data: URI image per chart, in order, with alt text and
	// the title as caption.
	var imgs, captions []htmlNode
	for _, n := range nodes {
		switch n.Name {
		case "img":
			imgs = append(imgs, n)
		case "figcaption":
			captions = append(captions, n)
		}
	}
	if len(imgs) != len(charts) || len(captions) != len(charts) {
		t.Fatalf("page has %d images and %d captions, want %d", len(imgs), len(captions), len(charts))
	}
	for i, c := range charts {
		data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(imgs[i].Attrs["src"], "data:image/png;base64,"))
		if err != nil || !bytes.Equal(data, c.PNG) {
			t.Errorf("image %d is not chart %q's PNG (err %v)", i, c.Name, err)
		}
		if imgs[i].Attrs["alt"] != c.Title || strings.TrimSpace(captions[i].Text) != c.Title {
			t.Errorf("image %d: alt %q, caption %q, want %q", i, imgs[i].Attrs["alt"], captions[i].Text, c.Title)
		}
		if imgs[i].Attrs["width"] != "400" || imgs[i].Attrs["height"] != "200" {
			t.Errorf("image %d is %sx%s, want 400x200", i, imgs[i].Attrs["width"], imgs[i].Attrs["height"])
		}
	}

	// Hostile content shows as text: escaped in the source, intact once
	// unescaped, and never as markup.
	if strings.Contains(page, scriptBody) {
		t.Error("the script body appears unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;window.pwned=1&lt;/script&gt;") {
		t.Error("the script body does not appear escaped")
	}
	if strings.Contains(page, hostileURL) || strings.Contains(page, `"><img`) {
		t.Error("the hostile URL appears unescaped")
	}
	var bodies, texts []string
	for _, n := range nodes {
		if n.Name == "pre" && n.hasClass("body") {
			bodies = append(bodies, n.Text)
		}
		texts = append(texts, n.Text)
	}
	if len(bodies) != 3 || !slices.Contains(bodies, scriptBody) {
		t.Errorf("example bodies are %q, want 3 with the script body", bodies)
	}
	if !strings.Contains(strings.Join(texts, "\n"), hostileURL) {
		t.Error("the hostile URL is not shown as text")
	}
	if findNode(nodes, 0, func(n htmlNode) bool { return n.Name == "span" && n.hasClass("tag") && n.Text == "truncated" }) < 0 {
		t.Error("the truncated flag is not shown")
	}

	// The error breakdown and the details.
	for _, want := range []string{
		"OUT_OF_STOCK", "CARD_DECLINED", "timeout", "status is confirmed", "tenant-b", "req-0107", "req-0150",
		"context deadline exceeded", fmtRate(5) + " → " + fmtRate(30), "think_time is ignored", "oauth2", "requests.jsonl", "12 left out",
		"v0.4.0-test", "go1.26.8", "ci-runner-7", "linux/amd64", "2026-03-01 12:00:00.000Z", "2026-03-01 12:01:00.000Z",
		"20260301-120000-checkout", "Browse items and place orders", "scenarios/checkout.yaml", "staging", "1.017 HTTP requests per request",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestWriteHTMLSuite(t *testing.T) {
	t.Parallel()
	page := renderHTML(t, &Page{
		Title: "nightly suite", Suite: true, Verdict: Fail,
		Runs: []PageRun{
			{Report: testReport("checkout"), Charts: testCharts(t, 2), Dir: "a"},
			{Report: passingReport("browse"), Charts: testCharts(t, 2), Dir: "b"},
			{Report: func() *Report { r := passingReport("stopped"); r.Verdict = Interrupted; r.Interrupted = true; return r }()},
		},
	})
	nodes := parsePage(t, page)
	checkSelfContained(t, page, nodes)

	suite := findNode(nodes, 0, nodeByClass("table", "suite-table"))
	first := findNode(nodes, 0, nodeByID("run-1"))
	if suite < 0 || first < 0 || suite > first {
		t.Fatalf("suite table at %d, first run at %d: the suite table must come first", suite, first)
	}
	if v := nodes[findNode(nodes, 0, nodeByClass("div", "verdict"))]; !v.hasClass("v-fail") {
		t.Errorf("the suite's verdict block has class %q, want v-fail", v.Attrs["class"])
	}
	want := []struct{ name, class, word, failed string }{
		{"checkout", "v-fail", "FAIL", "2 of 3"},
		{"browse", "v-pass", "PASS", "0 of 1"},
		{"stopped", "v-warn", "INTERRUPTED", "0 of 1"},
	}
	at := suite
	for i, w := range want {
		a := findNode(nodes, at, func(n htmlNode) bool { return n.Name == "a" })
		if a < 0 || a > first {
			t.Fatalf("suite row %d has no link", i)
		}
		if nodes[a].Text != w.name || nodes[a].Attrs["href"] != "#run-"+string(rune('1'+i)) {
			t.Errorf("suite row %d links %q to %q", i, nodes[a].Text, nodes[a].Attrs["href"])
		}
		s := findNode(nodes, a, func(n htmlNode) bool { return n.Name == "span" })
		if !nodes[s].hasClass(w.class) || nodes[s].Text != w.word {
			t.Errorf("suite row %d verdict %q class %q, want %s %s", i, nodes[s].Text, nodes[s].Attrs["class"], w.word, w.class)
		}
		if findNode(nodes, s, func(n htmlNode) bool { return n.Name == "td" && n.Text == w.failed }) < 0 {
			t.Errorf("suite row %d lacks failed thresholds %q", i, w.failed)
		}
		at = s
	}
	// Each run has its whole section, in order.
	for i := 1; i <= 3; i++ {
		id := "run-" + string(rune('0'+i))
		v := findNode(nodes, 0, nodeByID(id+"-verdict"))
		th := findNode(nodes, 0, nodeByID(id+"-thresholds"))
		rq := findNode(nodes, 0, nodeByID(id+"-requests"))
		if v < 0 || th < v || rq < th {
			t.Errorf("%s: verdict %d, thresholds %d, requests %d are missing or out of order", id, v, th, rq)
		}
	}
	if n := strings.Count(page, `<img src="data:image/png;base64,`); n != 4 {
		t.Errorf("page has %d images, want 4", n)
	}
}

func TestWriteHTMLEdgeCases(t *testing.T) {
	t.Parallel()
	if err := WriteHTML(io.Discard, nil); err == nil {
		t.Error("a nil page gave no error")
	}
	if err := WriteHTML(io.Discard, &Page{Runs: []PageRun{{Dir: "x"}}}); err == nil || !strings.Contains(err.Error(), "no report") {
		t.Errorf("a run without a report gave %v", err)
	}
	// A plot without a PNG is named, not shown as a broken image; a run
	// with no thresholds, figures or time still renders.
	page := renderHTML(t, &Page{Runs: []PageRun{{
		Report: &Report{Scenario: ScenarioInfo{Name: "empty"}, Verdict: Pass},
		Charts: []chart.Image{{Name: "spectrum", Title: "Latency spectrum", SVG: []byte("<svg/>")}, {Name: "bad", Title: "Bad", PNG: []byte("\x89PNG\r\n\x1a\nnot really")}},
	}}})
	nodes := parsePage(t, page)
	checkSelfContained(t, page, nodes)
	if strings.Contains(page, "<img") {
		t.Error("a plot without a usable PNG became an image")
	}
	for _, want := range []string{"no PNG image for this plot", "unreadable", "Latency spectrum", "No thresholds", "No failed requests", "loadgate report: empty"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// A failing writer's error comes back.
	if err := WriteHTML(failingWriter{}, &Page{Runs: []PageRun{{Report: testReport("x")}}}); err == nil {
		t.Error("a failing writer gave no error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteMarkdownGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := testReport("checkout").WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.md")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run Markdown -update to create it)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("markdown differs from %s (rerun with -update if the change is wanted):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

func TestWriteSuiteMarkdown(t *testing.T) {
	t.Parallel()
	odd := passingReport("pipe | and\nnewline")
	odd.Thresholds[0].Expr = "error_rate < 5% | x"
	var buf bytes.Buffer
	if err := WriteSuiteMarkdown(&buf, Fail, []*Report{testReport("checkout"), odd}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## loadgate suite: **FAIL**\n",
		"| scenario | verdict | requests | error rate | p95 | failed thresholds |\n",
		"| checkout | **FAIL** | 1800 | 2.034% | 180.25ms | 2 of 3 |\n",
		"| pipe \\| and<br>newline | **PASS** | 1800 |",
		"\n### checkout\n\n**FAIL** · ",
		"\n### pipe \\| and<br>newline\n\n**PASS** · ",
		"| error\\_rate \\< 5% \\| x | 2.034% | 5% | pass |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("suite markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row keeps its column count: no cell broke a row.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| pipe") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 7 {
			t.Errorf("row %q does not have 6 cells", line)
		}
	}
	if err := WriteSuiteMarkdown(io.Discard, Pass, []*Report{nil}); err == nil {
		t.Error("a nil report gave no error")
	}
}

func TestMarkdownEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":                "plain",
		"a|b":                  `a\|b`,
		"line\nbreak\r\nthere": "line<br>break<br>there",
		"<script>":             `\<script\>`,
		"*bold* _it_ `code`":   "\\*bold\\* \\_it\\_ \\`code\\`",
		`back\slash [link]`:    `back\\slash \[link\]`,
	} {
		if got := mdText(in); got != want {
			t.Errorf("mdText(%q) = %q, want %q", in, got, want)
		}
	}
}
