// Package report is report.json's model and its renderers.
//
// The model: a run's figures computed as results stream in (stats.go,
// collect.go, timeline.go, series.go), what stats.json keeps of them
// (snapshot.go), the report built and merged from it with its thresholds
// evaluated (report.go, window.go, phases.go, generator.go), and the
// outputs built from reports: a comparison of two runs (compare.go) and a
// capacity search (capacity.go).
//
// The renderers, one file a format, each taking every output (run, suite,
// comparison, capacity): render_text.go, render_markdown.go,
// render_html.go (html/template over the embedded templates/) and
// render_junit.go; JSON is each model type's WriteJSON. Plots are in
// report/chart.
package report
