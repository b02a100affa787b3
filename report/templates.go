package report

import (
	"embed"
	"html/template"
	"sync"
)

// The pages' templates and style sheet, embedded. Every page has the same
// head: a strict content security policy (no script, no request) and the
// styles inline, so a response body that slipped through unescaped still
// could not run.
//
//go:embed templates/head.html templates/page.css templates/report.html templates/capacity.html
var templates embed.FS

// pageTemplate parses the head, the styles and one page's body, once. It
// is parsed lazily, not with template.Must at init, so that a mistake in
// it is an error, not a panic.
func pageTemplate(body string) func() (*template.Template, error) {
	return sync.OnceValues(func() (*template.Template, error) {
		css, err := templates.ReadFile("templates/page.css")
		if err != nil {
			return nil, err
		}
		t, err := template.New(body).Parse(`{{define "css"}}` + string(css) + `{{end}}`)
		if err != nil {
			return nil, err
		}
		return t.ParseFS(templates, "templates/head.html", "templates/"+body)
	})
}

var (
	htmlTemplate     = pageTemplate("report.html")
	capacityTemplate = pageTemplate("capacity.html")
)
