package runbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// MaxSize is the largest runbook drbook reads: 10 MiB. Anything larger is
// almost certainly not a runbook (a database, a log, a backup).
const MaxSize = 10 << 20

// catchPanics turns a parser panic into an error; tests switch it off to
// see the stack.
var catchPanics = true

// Parse reads a Markdown runbook. name is used in problems and to derive
// the id when the front matter sets none (a path, or "embedded:NAME.md").
//
// Parse fails only when the document cannot be read as a runbook at all:
// too large, binary or not UTF-8, malformed front matter, an unterminated
// code fence. The error is then a Problems value, each with file:line and
// a hint. Everything else (unknown attributes, bad attribute values, an
// unknown action) is left for Validate, which reports all of it at once.
func Parse(src []byte, name string) (rb *Runbook, err error) {
	defer func() {
		// The parser is fuzzed; this is a last line of defence so that a
		// bug shows as a clear error rather than a crash mid-incident.
		if !catchPanics {
			return
		}
		if r := recover(); r != nil {
			rb = nil
			err = Problems{{File: name, Line: 1, Msg: fmt.Sprintf("internal parser error: %v", r),
				Hint: "please report this file to the drbook maintainers"}}
		}
	}()
	if ps := checkBytes(src, name); ps != nil {
		return nil, ps
	}
	sum := sha256.Sum256(src)
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(src, '\r') >= 0 {
		src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		src = bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
	}

	rb = &Runbook{Source: name, Line: 1, SHA256: hex.EncodeToString(sum[:])}
	fm, body, bodyLine, ps := splitFrontMatter(src, name)
	if ps != nil {
		return nil, ps
	}
	set := objectivesSet{}
	if fm != nil {
		if ps := applyFrontMatter(rb, fm, name, &set); ps != nil {
			return nil, ps
		}
	}
	p := &parser{
		src: body, file: name, lineOff: bodyLine - 1, rb: rb, set: set,
		ids: map[string]bool{},
	}
	if n := bytes.Count(src, []byte("\n")); n > MaxLines {
		return nil, Problems{{File: name, Line: MaxLines + 1,
			Msg:  fmt.Sprintf("file has %d lines, over the %d-line limit for a runbook", n, MaxLines),
			Hint: "a runbook is a document to read during an incident; split it, or check the path"}}
	}
	if ps := checkNesting(body, name, bodyLine-1); ps != nil {
		return nil, ps
	}
	p.lineStarts = lineStarts(body)
	doc := structureParser.Parse(text.NewReader(body))
	p.walk(doc)
	if p.fatal != nil {
		return nil, p.fatal
	}
	p.finish()
	if rb.ID == "" {
		rb.ID = idFromName(name)
	}
	if rb.Title == "" {
		rb.Title = rb.ID
	}
	return rb, nil
}

// checkBytes refuses what is not a Markdown document.
func checkBytes(src []byte, name string) Problems {
	if len(src) > MaxSize {
		return Problems{{File: name, Line: 1,
			Msg:  fmt.Sprintf("file is %d bytes, over the %d MiB limit for a runbook", len(src), MaxSize>>20),
			Hint: "a runbook is a Markdown document; check the path"}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return Problems{{File: name, Line: 1 + bytes.Count(src[:i], []byte("\n")),
			Msg:  "file is binary (contains a NUL byte), not Markdown",
			Hint: "a runbook is a UTF-8 Markdown document; check the path"}}
	}
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, size := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return Problems{{File: name, Line: 1 + bytes.Count(src[:off], []byte("\n")),
			Msg:  fmt.Sprintf("file is not valid UTF-8 (byte 0x%02x at offset %d)", src[off], off),
			Hint: "save the runbook as UTF-8"}}
	}
	return nil
}

// idFromName derives a runbook id from a file name: "runbooks/Database
// Recovery.md" is "database-recovery".
func idFromName(name string) string {
	name = strings.TrimPrefix(name, "embedded:")
	base := filepath.Base(path.Base(filepath.ToSlash(name)))
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if s := slug(base, 64); s != "" {
		return s
	}
	return "runbook"
}

func lineStarts(b []byte) []int {
	starts := make([]int, 1, 64+len(b)/40)
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

type objectivesSet struct{ rto, rpo, mtd bool }

type section struct {
	title  string // heading text, attributes removed
	attrs  string // raw attribute text after the heading, if any
	level  int
	idx    int // body line index of the heading
	group  string
	ref    bool // contacts, templates: shown on demand, never phases
	phase  *Phase
	last   *Phase // the last phase of a bold phase list in this section
	detail []string
	phases int // phases created in this section or below
}

type parser struct {
	src        []byte
	file       string
	lineOff    int // lines before the body (front matter)
	lineStarts []int
	rb         *Runbook
	set        objectivesSet

	stack    []*section
	sections []*section
	implicit *section // content before any heading
	titled   bool     // an H1 title was consumed
	ids      map[string]bool
	// inlineBytes counts the title bytes read with their markup (see
	// maxInlineTotal).
	inlineBytes int
	next        map[string]int // unique: the next suffix to try for a base
	inlines     map[ast.Node]inlineDoc
	fatal       Problems
}

// idx returns the 0-based body line index of a byte offset.
func (p *parser) idx(off int) int {
	if off < 0 {
		return 0
	}
	return sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > off }) - 1
}

// fileLine converts a body line index to a 1-based file line.
func (p *parser) fileLine(idx int) int { return idx + 1 + p.lineOff }

func (p *parser) lineText(idx int) string {
	if idx < 0 || idx >= len(p.lineStarts) {
		return ""
	}
	end := len(p.src)
	if idx+1 < len(p.lineStarts) {
		end = p.lineStarts[idx+1] - 1
	}
	return string(p.src[p.lineStarts[idx]:end])
}

// lines returns body lines [from, to] joined, dedented and trimmed.
func (p *parser) lines(from, to int) string {
	if from > to || from >= len(p.lineStarts) {
		return ""
	}
	ls := make([]string, 0, to-from+1)
	for i := from; i <= to && i < len(p.lineStarts); i++ {
		ls = append(ls, p.lineText(i))
	}
	return dedent(ls)
}

func dedent(ls []string) string {
	min := -1
	for _, l := range ls {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if min < 0 || n < min {
			min = n
		}
	}
	for i, l := range ls {
		if len(l) >= min && min > 0 {
			ls[i] = l[min:]
		} else if strings.TrimSpace(l) == "" {
			ls[i] = ""
		}
	}
	return strings.Trim(strings.Join(ls, "\n"), "\n")
}

// span returns the first and last body line indexes a node covers.
func (p *parser) span(n ast.Node) (int, int) {
	first, last := -1, -1
	grow := func(a, b int) {
		if first < 0 || a < first {
			first = a
		}
		if b > last {
			last = b
		}
	}
	if pos := n.Pos(); pos >= 0 {
		i := p.idx(pos)
		grow(i, i)
	}
	if n.Type() == ast.TypeBlock {
		if ls := n.Lines(); ls != nil && ls.Len() > 0 {
			grow(p.idx(ls.At(0).Start), p.idx(ls.At(ls.Len()-1).Start))
		}
		if f, ok := n.(*ast.FencedCodeBlock); ok {
			if closeIdx, ok := p.fenceClose(f); ok {
				grow(closeIdx, closeIdx)
			}
		}
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if c.Type() != ast.TypeBlock {
				continue
			}
			a, b := p.span(c)
			if a >= 0 {
				grow(a, b)
			}
		}
	}
	return first, last
}

// fenceClose finds the closing fence line of a fenced block.
func (p *parser) fenceClose(f *ast.FencedCodeBlock) (int, bool) {
	open := p.idx(f.Pos())
	ol := strings.TrimLeft(p.lineText(open), " \t>")
	// The opening line may still carry a list marker ("1. ```bash").
	i := strings.IndexAny(ol, "`~")
	if i < 0 {
		return 0, false
	}
	ch := ol[i]
	n := 0
	for i+n < len(ol) && ol[i+n] == ch {
		n++
	}
	last := open
	if ls := f.Lines(); ls.Len() > 0 {
		last = p.idx(ls.At(ls.Len() - 1).Start)
		if last < open {
			last = open
		}
	}
	cl := last + 1
	if cl >= len(p.lineStarts) {
		return 0, false
	}
	t := strings.TrimLeft(p.lineText(cl), " \t>")
	k := 0
	for k < len(t) && t[k] == ch {
		k++
	}
	if k < n || strings.TrimSpace(t[k:]) != "" {
		return 0, false
	}
	return cl, true
}

// plain returns the text of a block's inlines (a heading, paragraph or
// text block) without Markdown markup.
func (p *parser) plain(n ast.Node) string {
	if n == nil {
		return ""
	}
	d := p.inline(n)
	return plainText(d.root, d.src)
}

// plainText returns the text of an inline tree without Markdown markup.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.AutoLink:
				b.Write(c.Label(src))
			case *ast.RawHTML:
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

var (
	refSectionRE = regexp.MustCompile(`(?i)\b(contacts?|templates?)\b`)
	contactsRE   = regexp.MustCompile(`(?i)\bcontacts?\b`)
	numberingRE  = regexp.MustCompile(`^\s*(\d+(\.\d+)*\.?|[ivx]+\.|[a-z]\))\s+`)
	checkboxRE   = regexp.MustCompile(`^\[[ xX]\]\s*`)
	severityRE   = regexp.MustCompile(`(?i)\bseverity\s*(\d)\b`)
	boldLineRE   = regexp.MustCompile(`^\s*(?:[-*+]\s+)?\*\*([^*]+?)\*\*\s*:?\s*(.*?)\s*$`)
)

func (p *parser) walk(doc ast.Node) {
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			p.heading(n)
		case *ast.List:
			p.list(n)
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			if s := p.current(); !s.ref {
				ph := p.sectionPhase(s)
				for _, st := range p.blockSteps(n, ph) {
					ph.Steps = append(ph.Steps, st)
				}
			}
		default:
			p.detail(n)
		}
	}
}

func (p *parser) current() *section {
	if len(p.stack) > 0 {
		return p.stack[len(p.stack)-1]
	}
	if p.implicit == nil {
		p.implicit = &section{title: "", level: 0, idx: 0}
		p.sections = append(p.sections, p.implicit)
	}
	return p.implicit
}

func (p *parser) heading(h *ast.Heading) {
	idx := p.idx(h.Pos())
	txt := p.plain(h)
	if h.Level == 1 && !p.titled && len(p.stack) == 0 && len(p.rb.Phases) == 0 {
		p.titled = true
		if p.rb.Title == "" {
			p.rb.Title = txt
		}
		p.rb.Line = p.fileLine(idx)
		return
	}
	title, attrs := trailingAttrs(txt)
	for len(p.stack) > 0 && p.stack[len(p.stack)-1].level >= h.Level {
		p.stack = p.stack[:len(p.stack)-1]
	}
	s := &section{title: title, attrs: attrs, level: h.Level, idx: idx}
	if len(p.stack) > 0 {
		parent := p.stack[len(p.stack)-1]
		s.group = parent.title
		s.ref = parent.ref
	}
	if refSectionRE.MatchString(title) {
		s.ref = true
	}
	p.stack = append(p.stack, s)
	p.sections = append(p.sections, s)
}

// sectionPhase returns the phase of a heading section, creating it when
// its first step appears.
func (p *parser) sectionPhase(s *section) *Phase {
	if s.phase == nil && s.last != nil {
		// Steps after a bold phase list belong to its last phase.
		return s.last
	}
	if s.phase == nil {
		title := s.title
		if s == p.implicit {
			// Steps before any phase heading: a phase named after the
			// runbook's title, or "Steps".
			title = p.rb.Title
			if title == "" {
				title = "Steps"
			}
		}
		s.phase = p.newPhase(title, s.attrs, p.fileLine(s.idx), s.group)
		p.countPhase()
	}
	return s.phase
}

func (p *parser) countPhase() {
	for _, s := range p.stack {
		s.phases++
	}
}

func (p *parser) newPhase(title, attrs string, line int, group string) *Phase {
	if attrs == "" {
		title, attrs = trailingAttrs(title)
	}
	ph := &Phase{Title: title, Line: line, Group: group}
	clean := title
	if w, rest, ok := windowFromTitle(title); ok {
		ph.Window = w
		clean = rest
	}
	var explicit string
	if attrs != "" {
		pairs, err := parseAttrText(attrs)
		if err != nil {
			p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: line, Msg: err.Error(),
				Hint: "write phase attributes as {window=15m-1h id=recovery}"})
		}
		for _, kv := range pairs {
			switch kv[0] {
			case "id":
				explicit = kv[1]
			case "window":
				w, err := ParseWindow(kv[1])
				if err != nil {
					p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: line, Msg: err.Error(),
						Hint: "write the window as START-END, such as window=15m-1h"})
					continue
				}
				ph.Window = w
			default:
				p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: line,
					Msg:  fmt.Sprintf("unknown phase attribute %q", kv[0]),
					Hint: "known phase attributes: " + knownList(phaseAttrs)})
			}
		}
	}
	if explicit != "" {
		ph.ID = explicit
		p.ids[explicit] = true
	} else {
		base := strings.TrimRight(clean, ": ")
		if base != "" && (base[0] >= '0' && base[0] <= '9' || base[0] >= 'a' && base[0] <= 'z' || base[0] == ' ') {
			base = numberingRE.ReplaceAllString(base, "")
		}
		ph.ID = p.unique(slug(base, 32), "phase")
	}
	p.rb.Phases = append(p.rb.Phases, ph)
	return ph
}

// unique returns base, or base-2, base-3... so ids never collide.
func (p *parser) unique(base, fallback string) string {
	if base == "" {
		base = fallback
	}
	id := base
	// Start where the last search for base stopped: a thousand steps
	// with one title cost a thousand lookups, not half a million.
	n := max(2, p.next[base])
	for ; p.ids[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	if p.next == nil {
		p.next = map[string]int{}
	}
	p.next[base] = n
	p.ids[id] = true
	return id
}

func (p *parser) detail(n ast.Node) {
	s := p.current()
	a, b := p.span(n)
	if a < 0 {
		return
	}
	raw := p.lines(a, b)
	if _, ok := n.(*ast.Paragraph); ok {
		p.scanObjectives(raw, s, p.fileLine(a))
	}
	s.detail = append(s.detail, raw)
}

// scanObjectives reads the plan's bold-label style:
// "**Recovery Time Objective (RTO):** 4 hours", and under a "Severity N"
// heading "**Response Time:** Immediate (< 15 minutes)".
func (p *parser) scanObjectives(raw string, s *section, line int) {
	if !strings.Contains(raw, "**") {
		return
	}
	for i, l := range strings.Split(raw, "\n") {
		if !strings.Contains(l, "**") {
			continue
		}
		m := boldLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		label := strings.ToLower(strings.TrimRight(strings.TrimSpace(m[1]), ":"))
		val := strings.TrimSpace(m[2])
		var target *bool
		var dst *time.Duration
		switch {
		case strings.Contains(label, "recovery time objective") || label == "rto":
			target, dst = &p.set.rto, &p.rb.Objectives.RTO
		case strings.Contains(label, "recovery point objective") || label == "rpo":
			target, dst = &p.set.rpo, &p.rb.Objectives.RPO
		case strings.Contains(label, "maximum tolerable") || label == "mtd":
			target, dst = &p.set.mtd, &p.rb.Objectives.MTD
		case label == "response time":
			sm := severityRE.FindStringSubmatch(s.title)
			if sm == nil {
				continue
			}
			sev := int(sm[1][0] - '0')
			if d, ok := looseDuration(val); ok {
				if p.rb.Response == nil {
					p.rb.Response = map[int]time.Duration{}
				}
				if _, done := p.rb.Response[sev]; !done {
					p.rb.Response[sev] = d
				}
			}
			continue
		default:
			continue
		}
		if *target {
			continue
		}
		d, ok := looseDuration(val)
		if !ok {
			p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: line + i,
				Msg:  fmt.Sprintf("cannot read %q as a duration for %s", val, m[1]),
				Hint: "write it as \"4 hours\" or \"15 minutes\""})
			continue
		}
		*dst, *target = d, true
	}
}

// looseDuration reads "4 hours", "Immediate (< 15 minutes)", "1 hour".
func looseDuration(v string) (time.Duration, bool) {
	if d, err := ParseDuration(v); err == nil {
		return d, true
	}
	if w, _, ok := windowFromTitle(v); ok {
		return w.End, true
	}
	if m := wordDurationRE.FindString(strings.ToLower(v)); m != "" {
		if d, err := ParseDuration(m); err == nil {
			return d, true
		}
	}
	if strings.EqualFold(strings.TrimSpace(v), "immediate") {
		return 0, true
	}
	return 0, false
}

func (p *parser) list(l *ast.List) {
	s := p.current()
	if s.ref {
		return
	}
	switch {
	case p.isPhaseList(l):
		for it := l.FirstChild(); it != nil; it = it.NextSibling() {
			ph := p.newPhase(p.plain(it.FirstChild()), "", p.fileLine(p.idx(it.Pos())), s.title)
			p.countPhase()
			s.last = ph
			var detail []string
			for c := it.FirstChild().NextSibling(); c != nil; c = c.NextSibling() {
				switch c := c.(type) {
				case *ast.List:
					for sub := c.FirstChild(); sub != nil; sub = sub.NextSibling() {
						ph.Steps = append(ph.Steps, p.itemSteps(sub, ph)...)
					}
				case *ast.FencedCodeBlock, *ast.CodeBlock:
					ph.Steps = append(ph.Steps, p.blockSteps(c, ph)...)
				default:
					if a, b := p.span(c); a >= 0 {
						detail = append(detail, p.lines(a, b))
					}
				}
			}
			ph.Detail = strings.Join(detail, "\n\n")
		}
	case p.isDefinitionList(l):
		p.detail(l)
	default:
		ph := p.sectionPhase(s)
		for it := l.FirstChild(); it != nil; it = it.NextSibling() {
			ph.Steps = append(ph.Steps, p.itemSteps(it, ph)...)
		}
	}
}

// boldLead reports whether a list item's first block is bold text, and
// what follows the bold (trimmed).
func (p *parser) boldLead(it ast.Node) (bool, string) {
	first := it.FirstChild()
	if first == nil {
		return false, ""
	}
	if _, ok := first.(*ast.Paragraph); !ok {
		if _, ok := first.(*ast.TextBlock); !ok {
			return false, ""
		}
	}
	d := p.inline(first)
	c := d.root.FirstChild()
	for c != nil {
		if t, ok := c.(*ast.Text); ok && strings.TrimSpace(string(t.Segment.Value(d.src))) == "" {
			c = c.NextSibling()
			continue
		}
		break
	}
	e, ok := c.(*ast.Emphasis)
	if !ok || e.Level != 2 {
		return false, ""
	}
	var rest strings.Builder
	for r := e.NextSibling(); r != nil; r = r.NextSibling() {
		if t, ok := r.(*ast.Text); ok {
			rest.Write(t.Segment.Value(d.src))
			if t.SoftLineBreak() {
				rest.WriteByte(' ')
			}
		} else {
			rest.WriteString("\x00") // something other than text
		}
	}
	bold := plainText(e, d.src)
	tail := strings.TrimSpace(rest.String())
	if strings.HasSuffix(bold, ":") {
		tail = ":" + tail
	}
	return true, tail
}

// isPhaseList: every item is bold text alone (perhaps with {attributes})
// and holds a nested list of steps — the plan's
// "1. **Immediate Actions (0-15 minutes)**" style.
func (p *parser) isPhaseList(l *ast.List) bool {
	if l.FirstChild() == nil {
		return false
	}
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		ok, tail := p.boldLead(it)
		if !ok {
			return false
		}
		if tail != "" {
			if _, attrs := trailingAttrs(tail); attrs == "" || strings.TrimSpace(strings.TrimSuffix(tail, attrs)) != "" {
				return false
			}
		}
		nested := false
		for c := it.FirstChild(); c != nil; c = c.NextSibling() {
			if _, ok := c.(*ast.List); ok {
				nested = true
			}
		}
		if !nested {
			return false
		}
	}
	return true
}

// isDefinitionList: every item is "**Label:** value" with nothing nested —
// facts such as "**Location:** Local NAS", not things to do.
func (p *parser) isDefinitionList(l *ast.List) bool {
	if l.FirstChild() == nil {
		return false
	}
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		ok, tail := p.boldLead(it)
		if !ok || !strings.HasPrefix(tail, ":") || it.FirstChild().NextSibling() != nil {
			return false
		}
	}
	return true
}

// itemSteps turns a list item into a step; a code block in the item is
// the step's block, and any further blocks become steps of their own.
func (p *parser) itemSteps(it ast.Node, ph *Phase) []*Step {
	first := it.FirstChild()
	st := &Step{Kind: KindManual, Line: p.fileLine(p.idx(it.Pos()))}
	titleEnd := p.idx(it.Pos())
	var explicit string
	if first != nil {
		switch first.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			t := p.plain(first)
			if strings.HasPrefix(t, "[") {
				t = checkboxRE.ReplaceAllString(t, "")
			}
			t, attrs := trailingAttrs(t)
			if attrs != "" {
				pairs, err := parseAttrText(attrs)
				if err != nil {
					p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: st.Line, Msg: err.Error()})
				}
				for _, kv := range pairs {
					if kv[0] == "id" || kv[0] == "name" {
						explicit = kv[1]
					} else {
						p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: st.Line,
							Msg:  fmt.Sprintf("unknown step attribute %q", kv[0]),
							Hint: "a list item takes only {id=...}; put block attributes on the code fence"})
					}
				}
			}
			st.Title = t
			if _, b := p.span(first); b >= 0 {
				titleEnd = b
			}
		}
	}
	if _, end := p.span(it); end > titleEnd {
		st.Detail = p.lines(titleEnd+1, end)
	}
	var blocks []ast.Node
	_ = ast.Walk(it, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.(type) {
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			blocks = append(blocks, n)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	steps := []*Step{st}
	if len(blocks) > 0 {
		b := p.block(blocks[0])
		st.Block = b
		st.Kind = kindOf(b)
		if st.Title == "" {
			st.Title = blockTitle(b, ph.Title)
		}
		if explicit == "" {
			explicit = b.Attrs.Name
		}
		for _, extra := range blocks[1:] {
			steps = append(steps, p.blockSteps(extra, ph)...)
		}
	}
	if st.Title == "" {
		st.Title = "(untitled step)"
	}
	if explicit != "" {
		st.ID = ph.ID + "/" + explicit
		p.ids[st.ID] = true
	} else {
		st.ID = p.unique(ph.ID+"/"+slug(st.Title, 40), ph.ID+"/step")
	}
	// Keep the explicit-id step first so ids stay in document order.
	return steps
}

// blockSteps makes a step of a code block standing on its own.
func (p *parser) blockSteps(n ast.Node, ph *Phase) []*Step {
	b := p.block(n)
	st := &Step{Kind: kindOf(b), Block: b, Line: b.Line, Title: blockTitle(b, ph.Title)}
	if b.Attrs.Name != "" {
		st.ID = ph.ID + "/" + b.Attrs.Name
		p.ids[st.ID] = true
	} else {
		st.ID = p.unique(ph.ID+"/"+slug(st.Title, 40), ph.ID+"/block")
	}
	return []*Step{st}
}

func (p *parser) block(n ast.Node) *Block {
	b := &Block{Line: p.fileLine(p.idx(n.Pos()))}
	var attrText string
	if f, ok := n.(*ast.FencedCodeBlock); ok {
		if f.Info != nil {
			b.Lang, attrText = splitInfo(string(f.Info.Segment.Value(p.src)))
		}
		if _, ok := p.fenceClose(f); !ok {
			p.fatal = append(p.fatal, Problem{File: p.file, Line: b.Line,
				Msg:  "code fence opened here is never closed",
				Hint: "close the block with a line of the same fence (``` or ~~~)"})
		}
	}
	var code strings.Builder
	ls := n.Lines()
	for i := 0; i < ls.Len(); i++ {
		seg := ls.At(i)
		code.Write(seg.Value(p.src))
	}
	b.Code = strings.TrimRight(code.String(), "\n")
	b.Attrs = Attrs{Raw: map[string]string{}}
	if attrText != "" {
		pairs, err := parseAttrText(attrText)
		if err != nil {
			p.rb.problems = append(p.rb.problems, Problem{File: p.file, Line: b.Line, Msg: err.Error(),
				Hint: "write attributes as { name=restore-db confirm=true } or {\"name\":\"restore-db\"}"})
		}
		var ps Problems
		b.Attrs, ps = blockAttrsFrom(pairs, p.file, b.Line)
		p.rb.problems = append(p.rb.problems, ps...)
	}
	if b.Lang == "drbook" {
		p.rb.problems = append(p.rb.problems, parseDrbookBlock(b, p.file)...)
	}
	return b
}

func kindOf(b *Block) Kind {
	switch b.Lang {
	case "sh", "bash", "shell":
		return KindShell
	case "sql", "sqlite", "sqlite3":
		return KindSQL
	case "drbook":
		return KindAction
	}
	return KindReference
}

// blockTitle names a block that has no list item around it: its name,
// else its first comment, else what it does.
func blockTitle(b *Block, phase string) string {
	if b.Attrs.Name != "" {
		return b.Attrs.Name
	}
	if b.Lang == "drbook" && b.Action != "" {
		return "Run " + b.Action
	}
	first := ""
	for _, l := range strings.Split(b.Code, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#!") {
			continue
		}
		for _, c := range []string{"#", "--", "//"} {
			if strings.HasPrefix(t, c) {
				if c := strings.TrimSpace(strings.TrimLeft(t, c[:1])); c != "" {
					return c
				}
			}
		}
		first = t
		break
	}
	if k := kindOf(b); first != "" && (k == KindShell || k == KindSQL) {
		// No comment to name it: its first line says what it does.
		if r := []rune(first); len(r) > 60 {
			first = string(r[:59]) + "…"
		}
		if k == KindShell {
			return "$ " + first
		}
		return first
	}
	switch kindOf(b) {
	case KindShell:
		return "Run shell commands"
	case KindSQL:
		return "Run SQL"
	}
	if b.Lang != "" {
		return phase + " (" + b.Lang + ")"
	}
	return phase + " (text)"
}

// finish assigns details and the on-demand sections.
func (p *parser) finish() {
	// A section ends where the next heading of the same or a higher level
	// starts.
	coveredUntil := -1 // sections inside one already kept are not kept again
	for i, s := range p.sections {
		if s.phase != nil {
			s.phase.Detail = strings.Join(s.detail, "\n\n")
		}
		if s == p.implicit || s.level == 0 {
			continue
		}
		end := len(p.lineStarts) - 1
		for _, t := range p.sections[i+1:] {
			if t.level > 0 && t.level <= s.level {
				end = t.idx - 1
				break
			}
		}
		body := p.lines(s.idx+1, end)
		body = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(body), "---"))
		if body == "" {
			continue
		}
		if contactsRE.MatchString(s.title) && p.rb.Contacts == "" {
			p.rb.Contacts = body
		}
		if s.idx > coveredUntil && (s.ref || s.phases == 0 && s.phase == nil && s.level <= 3) {
			coveredUntil = end
			if p.rb.Sections == nil {
				p.rb.Sections = map[string]string{}
			}
			if _, ok := p.rb.Sections[s.title]; !ok {
				p.rb.Sections[s.title] = body
			}
		}
	}
}

// slug makes an id from text: lower case ASCII letters and digits joined
// by dashes, cut at a dash to at most max bytes.
func slug(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == '&':
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
			}
			b.WriteString("and-")
			dash = true
		default:
			if b.Len() > 0 && !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > max {
		out = out[:max]
		if i := strings.LastIndexByte(out, '-'); i > max/2 {
			out = out[:i]
		}
		out = strings.Trim(out, "-")
	}
	return out
}
