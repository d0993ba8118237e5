package runbook

import (
	"bytes"
	"fmt"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	gmparser "github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// MaxNesting is the deepest nesting of lists and block quotes drbook reads.
// goldmark's time grows steeply with nesting (a list nested 1,000 deep
// took 3.6 s, 2,000 deep 29 s), so deeper documents are refused before
// they are parsed. Real runbooks nest a few levels; 32 is generous.
const MaxNesting = 32

// structureParser reads the block structure only (headings, lists, block
// quotes, code blocks, paragraphs): goldmark's inline parsers have cases
// that grow quadratically with a paragraph's length (a line of "[a](" of
// 100 KB took 21 s), and drbook needs inline markup only in titles, which
// inlines parses on their own.
//
// Link reference definitions are not looked for: goldmark reads a run of
// them in time that grows with the square of its length (100,000 took
// 23 s), and drbook resolves no links. A definition stays a paragraph of
// the section's text.
var structureParser = gmparser.NewParser(gmparser.WithBlockParsers(structureBlockParsers()...))

// structureBlockParsers are goldmark's block parsers, the HTML block
// parser bounded by shortHTMLBlockParser.
func structureBlockParsers() []util.PrioritizedValue {
	ps := gmparser.DefaultBlockParsers()
	for i, p := range ps {
		if bp, ok := p.Value.(gmparser.BlockParser); ok && bp == gmparser.NewHTMLBlockParser() {
			ps[i].Value = shortHTMLBlockParser{bp}
		}
	}
	return ps
}

// maxHTMLStartLine is the longest line that may start an HTML block.
const maxHTMLStartLine = 4 << 10

// shortHTMLBlockParser is goldmark's HTML block parser, except that a line
// longer than maxHTMLStartLine never starts an HTML block: goldmark tries
// its regular expressions on the whole line, about 1 s of CPU for a 10 MiB
// line of "<a ". Real HTML blocks start with a short tag or comment.
type shortHTMLBlockParser struct{ gmparser.BlockParser }

// Open implements gmparser.BlockParser.
func (p shortHTMLBlockParser) Open(parent ast.Node, reader text.Reader, pc gmparser.Context) (ast.Node, gmparser.State) {
	if line, _ := reader.PeekLine(); len(line) > maxHTMLStartLine {
		return nil, gmparser.NoChildren
	}
	return p.BlockParser.Open(parent, reader, pc)
}

// inlineParser is the full CommonMark parser, used on titles only.
var inlineParser = goldmark.New().Parser()

// Limits on a title read with its inline markup (emphasis, code spans,
// links). A title past them is read as plain text, markup included: the
// work goldmark does on a title then stays proportional to its length.
const (
	maxInlineBytes      = 1 << 10
	maxInlineBrackets   = 8  // [ and < : link and HTML openers
	maxInlineDelimiters = 64 // *, _, ` and &
)

// maxInlineTotal is how many bytes of titles one runbook may have read
// with their inline markup; later titles are read as plain text. The plan
// has about 4 KiB of titles; each title parsed alone costs a few
// microseconds, which over the hundreds of thousands of one-word steps a
// hostile file can hold would add up to seconds. Titles without markup
// characters cost nothing and do not count.
const maxInlineTotal = 256 << 10

// MaxLines is the most lines drbook reads in a runbook: goldmark's time
// grows with the number of blocks (about 1 s of CPU per 100,000 list
// items nested 32 deep, BenchmarkHostile), so a file of tiny lines is
// refused before it is parsed.
// The plan has about 300 lines; a 10,000-step runbook about 26,500.
const MaxLines = 50_000

// nbsp leads a title given to inlineParser alone, so that text such as
// "1. Immediate" or "# x" stays a paragraph; it is Unicode white space,
// which plain and boldLead already trim.
const nbsp = "\u00a0"

// inlineDoc is a title's inline tree and the source its segments index.
type inlineDoc struct {
	root ast.Node
	src  []byte
}

// inline returns the inline content of a heading, paragraph or text block:
// its lines joined with spaces and parsed alone by inlineParser, or, past
// the limits above, one text node holding them as they are.
func (p *parser) inline(n ast.Node) inlineDoc {
	if d, ok := p.inlines[n]; ok {
		return d
	}
	var b bytes.Buffer
	b.WriteString(nbsp)
	if ls := n.Lines(); ls != nil {
		for i := 0; i < ls.Len(); i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			seg := ls.At(i)
			b.Write(bytes.TrimRight(seg.Value(p.src), "\r\n"))
		}
	}
	src := b.Bytes()
	var root ast.Node
	if hasMarkup(src) && inlineSafe(src) && p.inlineBytes+len(src) <= maxInlineTotal {
		p.inlineBytes += len(src)
		if para := inlineParser.Parse(text.NewReader(src)).FirstChild(); para != nil {
			root = para
		}
	}
	if root == nil {
		para := ast.NewParagraph()
		para.AppendChild(para, ast.NewTextSegment(text.NewSegment(len(nbsp), len(src))))
		root = para
	}
	d := inlineDoc{root: root, src: src}
	if p.inlines == nil {
		p.inlines = map[ast.Node]inlineDoc{}
	}
	p.inlines[n] = d
	return d
}

// hasMarkup reports whether s has a character that can start inline
// markup; text without one reads the same parsed or not.
func hasMarkup(s []byte) bool {
	return bytes.ContainsAny(s, "*_`[]<>&\\!")
}

// inlineSafe reports whether s is within the limits for inline parsing.
func inlineSafe(s []byte) bool {
	if len(s) > maxInlineBytes {
		return false
	}
	brackets, delims := 0, 0
	for _, c := range s {
		switch c {
		case '[', '<':
			brackets++
		case '*', '_', '`', '&':
			delims++
		}
	}
	return brackets <= maxInlineBrackets && delims <= maxInlineDelimiters
}

// checkNesting refuses, before goldmark sees it, a body with lists or
// block quotes nested deeper than MaxNesting, naming the first line that
// goes too deep.
func checkNesting(body []byte, name string, lineOff int) Problems {
	line := 0
	for start := 0; start <= len(body); line++ {
		end := bytes.IndexByte(body[start:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += start
		}
		if d := nestingBound(body[start:end]); d > MaxNesting {
			return Problems{{File: name, Line: line + 1 + lineOff,
				Msg:  fmt.Sprintf("lists or block quotes nested %d deep; drbook reads at most %d levels", d, MaxNesting),
				Hint: "flatten the list: a runbook step needs a few levels at most"}}
		}
		start = end + 1
	}
	return nil
}

// nestingBound is an upper bound on the depth of lists and block quotes
// that a line opens or continues. A container can be opened only on a line
// that carries the whole chain before it: a '>' for each block quote, a
// marker for each list opened on the line, and for each list continued at
// least two columns of indentation. So the depth is at most the number of
// '>' and list markers in the line's prefix of white space, '>' and
// markers, plus half its white space (the one space after each marker
// aside). A line with no marker opens nothing (0), as does a thematic
// break such as "* * *".
func nestingBound(l []byte) int {
	ws, quotes, markers := 0, 0, 0
	var bullet byte
	sameBullet := true
	spaceAfter := func(j int) bool { return j >= len(l) || l[j] == ' ' || l[j] == '\t' }
	// skipOne steps over the single space that belongs to a marker.
	skipOne := func(j int) int {
		if j < len(l) && l[j] == ' ' {
			return j + 1
		}
		return j
	}
	i := 0
scan:
	for i < len(l) {
		switch c := l[i]; {
		case c == ' ':
			ws++
			i++
		case c == '\t':
			ws += 4
			i++
		case c == '>':
			quotes++
			i = skipOne(i + 1)
		case (c == '-' || c == '*' || c == '+') && spaceAfter(i+1):
			if bullet != 0 && c != bullet {
				sameBullet = false
			}
			bullet = c
			markers++
			i = skipOne(i + 1)
		case c >= '0' && c <= '9':
			j := i
			for j < len(l) && j-i < 9 && l[j] >= '0' && l[j] <= '9' {
				j++
			}
			if j >= len(l) || (l[j] != '.' && l[j] != ')') || !spaceAfter(j+1) {
				break scan
			}
			sameBullet = false
			markers++
			i = skipOne(j + 1)
		default:
			break scan
		}
	}
	if quotes+markers == 0 {
		return 0
	}
	if quotes == 0 && sameBullet && markers >= 3 && len(bytes.TrimSpace(l[i:])) == 0 {
		return 0 // a thematic break
	}
	return quotes + markers + ws/2
}
