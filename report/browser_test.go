package report

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which `make browser` installs.
const chromiumPath = "/usr/bin/chromium"

// pageProblems collects what the browser reports while it shows the page.
// The listener runs in chromedp's read loop, so it only appends under a
// lock and the test reads the lists once the page has settled.
type pageProblems struct {
	mu       sync.Mutex
	errors   []string // console errors, exceptions, error log entries
	warnings []string
	requests []string // every URL the page asked for
}

func (p *pageProblems) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		msg := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
			p.errors = append(p.errors, msg)
		case runtime.ConsoleAPICalledTypeWarning:
			p.warnings = append(p.warnings, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.errors = append(p.errors, fmt.Sprintf("%s at %s:%d", msg, d.URL, d.LineNumber+1))
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		msg := fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
		switch e.Level {
		case cdplog.EntryLevelError:
			p.errors = append(p.errors, msg)
		case cdplog.EntryLevelWarning:
			p.warnings = append(p.warnings, msg)
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	}
}

func (p *pageProblems) snapshot() (errs, warns, reqs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...), append([]string(nil), p.warnings...), append([]string(nil), p.requests...)
}

// lockedBuffer takes the browser's output from chromedp's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// imgState is what the browser says about one <img>.
type imgState struct {
	Alt           string  `json:"alt"`
	Complete      bool    `json:"complete"`
	NaturalWidth  int     `json:"naturalWidth"`
	NaturalHeight int     `json:"naturalHeight"`
	Width         float64 `json:"width"`
	Height        float64 `json:"height"`
	Scheme        string  `json:"scheme"`
}

// TestBrowserHTMLReport opens a suite report in a real Chromium, from a
// file as a user would, and checks that it shows without errors, that its
// plots load, that the hostile example body stays text and that the page
// paints something.
func TestBrowserHTMLReport(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "Chromium is not at " + chromiumPath + ": install Debian's chromium package " +
			"(apt-get install chromium, or make browser) to run the browser test of report.html"
		if os.Getenv("LOADGATE_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	began := time.Now()
	dir := t.TempDir()

	// A suite of two runs, each with the script body example and plots.
	runs := []PageRun{
		{Report: testReport("checkout"), Charts: testCharts(t, 3), Dir: "20260301-120000-checkout"},
		{Report: passingReport("browse"), Charts: testCharts(t, 2), Dir: "20260301-120200-browse"},
	}
	wantImages := len(runs[0].Charts) + len(runs[1].Charts)
	file := filepath.Join(dir, "report.html")
	var page bytes.Buffer
	if err := WriteHTML(&page, &Page{Title: "browser test suite", Suite: true, Verdict: Fail, Runs: runs}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: file}).String()

	// The timeout bounds the whole browser, so a hung Chromium cannot hang
	// the test run.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	output := &lockedBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container has no sandbox to use
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(output),
	)
	// Cancelling the allocator waits for Chromium to exit, so this runs
	// before t.TempDir removes the profile it writes to.
	defer cancelAlloc()
	problems := &pageProblems{}
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	defer cancelBrowser()
	defer func() {
		if t.Failed() {
			t.Logf("chromium output:\n%s", output.String())
		}
	}()

	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("load %s: %v", pageURL, err)
	}
	loaded := time.Since(began)

	// Every image has decoded and takes up room on the page.
	imgs, err := chromedp.Run(bctx, chromedp.Evaluate[[]imgState](`Array.from(document.images, i => {
		const r = i.getBoundingClientRect();
		return {alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
			width: r.width, height: r.height, scheme: new URL(i.src).protocol};
	})`))
	if err != nil {
		t.Fatalf("read images: %v", err)
	}
	if len(imgs) != wantImages {
		t.Errorf("page has %d images, want %d", len(imgs), wantImages)
	}
	for i, im := range imgs {
		if !im.Complete || im.NaturalWidth == 0 || im.NaturalHeight == 0 || im.Width == 0 || im.Height == 0 || im.Scheme != "data:" || im.Alt == "" {
			t.Errorf("image %d did not load or does not show: %+v", i, im)
		}
	}

	// The hostile body ran nowhere and reads as text.
	undefined, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`typeof window.pwned === "undefined"`))
	if err != nil {
		t.Fatalf("read window.pwned: %v", err)
	}
	if !undefined {
		t.Error("window.pwned is defined: the example body ran as a script")
	}
	scripts, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.scripts.length`))
	if err != nil {
		t.Fatalf("count scripts: %v", err)
	}
	if scripts != 0 {
		t.Errorf("page has %d script elements", scripts)
	}
	bodies, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("pre.body"), e => e.textContent)`))
	if err != nil {
		t.Fatalf("read example bodies: %v", err)
	}
	shown := 0
	for _, b := range bodies {
		if strings.Contains(b, "<script>") && strings.Contains(b, scriptBody) {
			shown++
		}
	}
	if shown != len(runs) {
		t.Errorf("%d example bodies show %q as text, want %d; bodies: %q", shown, scriptBody, len(runs), bodies)
	}

	// In-page links lead somewhere, and nothing but the page and its
	// data: images was requested.
	broken, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a[href]"))
		.map(a => a.getAttribute("href"))
		.filter(h => !h.startsWith("#") || !document.getElementById(decodeURIComponent(h.slice(1))))`))
	if err != nil {
		t.Fatalf("read links: %v", err)
	}
	if len(broken) > 0 {
		t.Errorf("links that lead nowhere in the page: %q", broken)
	}

	// The screenshot shows a page that painted: text, coloured blocks and
	// the plots' stripes.
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if out := os.Getenv("LOADGATE_BROWSER_SCREENSHOT"); out != "" {
		// For a look at the page by eye when working on it.
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
	checkPainted(t, shot)

	// At a phone's width the page does not scroll sideways: wide tables
	// scroll inside their own box.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatalf("narrow viewport: %v", err)
	}
	overflow, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
	if err != nil {
		t.Fatalf("read page width: %v", err)
	}
	if overflow > 0 {
		t.Errorf("at 390px wide the page overflows sideways by %gpx", overflow)
	}

	// Events can trail the commands above by a moment; a last round trip
	// to the page makes sure the listener has seen them.
	if _, err := chromedp.Call(bctx, runtime.Evaluate, runtime.EvaluateParams{Expression: "0"}); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	errs, warns, reqs := problems.snapshot()
	for _, e := range errs {
		t.Errorf("browser reported an error: %s", e)
	}
	for _, w := range warns {
		t.Logf("browser warning: %s", w)
	}
	for _, r := range reqs {
		if r != pageURL && !strings.HasPrefix(r, "data:") {
			t.Errorf("page requested %s", r)
		}
	}
	t.Logf("chromium loaded the page in %v; the test took %v (page %d bytes, %d images, screenshot %d bytes)",
		loaded.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), page.Len(), len(imgs), len(shot))
}

// checkPainted fails when a screenshot looks blank: too few non-white
// pixels, too few colours, or none of the test plots' stripe colours.
func checkPainted(t *testing.T, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 300 || b.Dy() < 600 {
		t.Errorf("screenshot is only %dx%d", b.Dx(), b.Dy())
	}
	var total, nonWhite int
	colours := map[[3]uint8]bool{}
	stripes := make([]int, len(stripeColours))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			total++
			if c.R < 235 || c.G < 235 || c.B < 235 {
				nonWhite++
			}
			colours[[3]uint8{c.R >> 4, c.G >> 4, c.B >> 4}] = true
			for i, s := range stripeColours {
				if near(c, s) {
					stripes[i]++
				}
			}
		}
	}
	if share := float64(nonWhite) / float64(total); share < 0.05 {
		t.Errorf("screenshot is %.1f%% non-white; the page looks blank", 100*share)
	}
	if len(colours) < 8 {
		t.Errorf("screenshot has %d distinct colours; the page looks blank", len(colours))
	}
	for i, n := range stripes {
		// Each colour covers at least a stripe of one 400x200 plot.
		if n < 50*200 {
			t.Errorf("the plots' colour %v covers %d pixels; the plots did not paint", stripeColours[i], n)
		}
	}
	t.Logf("screenshot %dx%d: %.1f%% non-white, %d colours", b.Dx(), b.Dy(), 100*float64(nonWhite)/float64(total), len(colours))
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= 4 && d(a.G, b.G) <= 4 && d(a.B, b.B) <= 4
}
