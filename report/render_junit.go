package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes reports as JUnit XML: one testsuite per scenario, one
// testcase per threshold, a failure naming the actual value against the
// limit, so a CI interface shows which gate failed.
func WriteJUnit(w io.Writer, reports []*Report) error {
	out := junitSuites{Name: "loadgate"}
	var total float64
	for _, r := range reports {
		s := junitSuite{
			Name: r.Scenario.Name, Time: fmt.Sprintf("%.3f", r.DurationS),
			Properties: []junitProperty{
				{"target", r.Scenario.Target}, {"environment", r.Scenario.Environment},
				{"verdict", r.Verdict}, {"requests", fmt.Sprint(r.Totals.Requests)},
				{"loadgate_version", r.Meta.LoadgateVersion},
			},
		}
		if !r.StartedAt.IsZero() {
			s.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		class := "loadgate." + r.Scenario.Name
		for _, t := range r.Thresholds {
			c := junitCase{Name: t.Expr, Classname: class, Time: "0"}
			if !t.Pass {
				msg := fmt.Sprintf("%s: actual %s against limit %s %s", t.Expr, t.ActualText, t.Op, t.LimitText)
				text := msg
				if t.Detail != "" {
					text += "\n" + t.Detail
				}
				c.Failure = &junitMessage{Message: msg, Type: "threshold", Text: text}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		if r.Verdict == Interrupted || len(r.Thresholds) == 0 {
			c := junitCase{Name: "run", Classname: class, Time: s.Time}
			if r.Verdict == Interrupted {
				c.Error = &junitMessage{Message: "the run was interrupted before its end", Type: "interrupted"}
				s.Errors++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		total += r.DurationS
		out.Suites = append(out.Suites, s)
	}
	out.Time = fmt.Sprintf("%.3f", total)
	return writeXML(w, out)
}

// writeXML writes v as an indented XML document.
func writeXML(w io.Writer, v any) error {
	var b strings.Builder
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJUnit writes one testcase per metric and request; a regression is a
// failure.
func (c *Comparison) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "loadgate compare", Time: "0",
		Properties: []junitProperty{{"baseline", c.Baseline}, {"current", c.Current}}}
	for _, ch := range c.Changes {
		tc := junitCase{Name: ch.Request + " " + ch.Metric, Classname: "loadgate.compare", Time: "0"}
		if ch.Verdict == CmpRegression {
			msg := fmt.Sprintf("%s %s: %s -> %s (%s), tolerance %s", ch.Request, ch.Metric, cmpValue(ch.Metric, ch.Baseline),
				cmpValue(ch.Metric, ch.Current), cmpChange(ch), ch.Tolerance)
			tc.Failure = &junitMessage{Message: msg, Type: "regression", Text: msg + "\ntest: " + ch.Test + ", p = " + pText(ch.PValue)}
			s.Failures++
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	out := junitSuites{Name: "loadgate", Tests: s.Tests, Failures: s.Failures, Time: "0", Suites: []junitSuite{s}}
	return writeXML(w, out)
}
