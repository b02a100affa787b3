package redact

import (
	"regexp"
	"strings"
)

// jsonKeys finds the keys of sensitive fields in JSON text: "name": and,
// in JSON carried inside a JSON string, \"name\": (group 1 is the quote).
func jsonKeys(alt string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\\?")(?:` + alt + `)\\?"\s*:\s*`)
}

// maskJSONFields masks the value after each sensitive key in s, at any
// depth: a string, number or literal becomes "[REDACTED]", and an array or
// object keeps its shape with every value in it masked, so the text stays
// valid JSON. Text that is not JSON around the keys is left as it is.
func maskJSONFields(s string, keys *regexp.Regexp) string {
	locs := keys.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return s
	}
	var b strings.Builder
	done := 0
	for _, m := range locs {
		if m[0] < done {
			continue // inside a value already masked
		}
		q := s[m[2]:m[3]] // `"`, or `\"` in JSON held in a string
		b.WriteString(s[done:m[1]])
		done = maskValue(&b, s, m[1], q)
	}
	b.WriteString(s[done:])
	return b.String()
}

// maskValue writes to b the JSON value at s[i:], its quotes q, masked,
// and returns where the value ends. A value it cannot read is left as it
// is (i is returned).
func maskValue(b *strings.Builder, s string, i int, q string) int {
	if i >= len(s) {
		return i
	}
	mask := q + Mask + q
	switch {
	case strings.HasPrefix(s[i:], q):
		end := stringEnd(s, i+len(q), q)
		if end < 0 {
			return i
		}
		b.WriteString(mask)
		return end
	case s[i] == '[' || s[i] == '{':
		return maskContainer(b, s, i, q)
	}
	j := i
	for j < len(s) && strings.IndexByte(",}] \t\r\n\\", s[j]) < 0 {
		j++
	}
	if j == i || s[i:j] == "null" {
		return i
	}
	b.WriteString(mask)
	return j
}

// maskContainer writes an array or object with every value masked and
// its object keys kept; it returns where it ends.
func maskContainer(b *strings.Builder, s string, i int, q string) int {
	var out strings.Builder
	out.WriteByte(s[i])
	j := i + 1
	key := s[i] == '{' // an object's next string is a key
	for j < len(s) {
		switch c := s[j]; {
		case c == ']' || c == '}':
			out.WriteByte(c)
			b.WriteString(out.String())
			return j + 1
		case c == ',':
			key = s[i] == '{'
			out.WriteByte(c)
			j++
		case c == ':':
			key = false
			out.WriteByte(c)
			j++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			out.WriteByte(c)
			j++
		case key && strings.HasPrefix(s[j:], q):
			end := stringEnd(s, j+len(q), q)
			if end < 0 {
				return i
			}
			out.WriteString(s[j:end])
			j = end
		default:
			next := maskValue(&out, s, j, q)
			if next == j {
				return i // not JSON after all
			}
			j = next
		}
	}
	return i
}

// stringEnd returns the index after the closing quote q of a JSON string
// whose content starts at i, or -1. Inside a string held in a string (q
// is \"), an escaped character of the inner string is \\ and one more.
func stringEnd(s string, i int, q string) int {
	for i < len(s) {
		switch {
		case q == `"` && s[i] == '\\':
			i += 2
		case q == `"` && s[i] == '"':
			return i + 1
		case strings.HasPrefix(s[i:], `\\`):
			i += 2
			if strings.HasPrefix(s[i:], `\`) {
				i += 2 // \\\" or \\\\: the inner escape's character, escaped
			} else {
				i++
			}
		case strings.HasPrefix(s[i:], `\"`):
			return i + 2
		default:
			i++
		}
	}
	return -1
}
