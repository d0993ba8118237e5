package positions

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// CSV layouts an IBKR statement comes in; ParseStatement tells them apart
// by their first row.
const (
	// LayoutTable is one header row, then one row per position: a Flex
	// Query "Open Positions" CSV or a portfolio export. A Flex Query over
	// several accounts may repeat the header row before each account.
	LayoutTable = "table"
	// LayoutFlexSections is a Flex Query CSV with section headers and
	// trailers: BOF/BOA/BOS lines, "HEADER","POST",... and "DATA","POST",...
	LayoutFlexSections = "flex-sections"
	// LayoutActivity is an Activity Statement: every row starts with its
	// section's name and the row kind (Header, Data, Total, SubTotal...);
	// positions are the Summary rows of the "Open Positions" section.
	LayoutActivity = "activity-statement"
)

// columnAliases maps what a column means to the header names that carry
// it, normalised (lower case, letters and digits only), best first: when
// a file has two of them (a Flex Query's Symbol and UnderlyingSymbol), the
// first wins and the other is ignored.
var columnAliases = []struct {
	meaning string
	names   []string
}{
	{"symbol", []string{"symbol", "ticker", "localsymbol", "underlyingsymbol", "underlying", "financialinstrument", "instrument", "contractdesc"}},
	{"qty", []string{"quantity", "position", "qty", "shares", "pos", "netquantity", "units"}},
	{"avg", []string{"costbasisprice", "avgcost", "averagecost", "avgprice", "averageprice", "costprice", "avgentryprice", "avgcostprice", "averagecostprice", "openprice"}},
	{"mark", []string{"markprice", "closeprice", "mktprice", "marketprice", "currentprice", "lastprice", "last", "price"}},
	{"currency", []string{"currencyprimary", "currency", "ccy"}},
	{"class", []string{"assetclass", "assetcategory", "sectype", "securitytype", "assettype"}},
	{"account", []string{"clientaccountid", "account", "accountid", "acctid", "accountnumber"}},
	{"level", []string{"levelofdetail", "datadiscriminator"}},
	{"side", []string{"side", "longshort"}},
}

// normHeader is a header name reduced to lower-case letters and digits, so
// that "Cost Price", "cost_price" and "CostPrice" are one name.
func normHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.TrimPrefix(h, "\ufeff") {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// columns is a header row understood: the index of each meaning, and the
// names of the columns nobody reads.
type columns struct {
	header  []string
	idx     map[string]int
	ignored []string
}

func readHeader(path string, line int, header []string) (*columns, error) {
	c := &columns{header: header, idx: map[string]int{}}
	seen := map[string]int{}
	for i, h := range header {
		n := normHeader(h)
		if n == "" {
			continue
		}
		if j, dup := seen[n]; dup {
			return nil, StatementError(path, line, "two columns named %q (columns %d and %d)", strings.TrimSpace(h), j+1, i+1)
		}
		seen[n] = i
	}
	used := map[int]bool{}
	for _, a := range columnAliases {
		for _, name := range a.names {
			if i, ok := seen[name]; ok {
				c.idx[a.meaning] = i
				used[i] = true
				break
			}
		}
	}
	for i, h := range header {
		if !used[i] && strings.TrimSpace(h) != "" {
			c.ignored = append(c.ignored, strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		}
	}
	if _, ok := c.idx["symbol"]; !ok {
		return nil, StatementError(path, line, "no Symbol column (also read as: Ticker, Underlying Symbol, Financial Instrument); the header is %s", quoteList(header, 8))
	}
	if _, ok := c.idx["qty"]; !ok {
		return nil, StatementError(path, line, "no Quantity column (also read as: Position, Qty, Shares); the header is %s", quoteList(header, 8))
	}
	return c, nil
}

// quoteList shows at most n names, quoted.
func quoteList(names []string, n int) string {
	var q []string
	for i, s := range names {
		if i == n {
			q = append(q, fmt.Sprintf("... (%d more)", len(names)-n))
			break
		}
		q = append(q, fmt.Sprintf("%q", strings.TrimPrefix(s, "\ufeff")))
	}
	return strings.Join(q, ",")
}

// sameHeader reports whether rec repeats the header, as a Flex Query over
// several accounts does before each account.
func (c *columns) sameHeader(rec []string) bool {
	if len(rec) != len(c.header) {
		return false
	}
	for i := range rec {
		if normHeader(rec[i]) != normHeader(c.header[i]) {
			return false
		}
	}
	return true
}

// looksLikeHeader reports whether rec is a header row of some other
// report: it names both a symbol and a quantity column.
func (c *columns) looksLikeHeader(rec []string) bool {
	has := map[string]bool{}
	for _, f := range rec {
		n := normHeader(f)
		for _, a := range columnAliases[:2] { // symbol, qty
			if slices.Contains(a.names, n) {
				has[a.meaning] = true
			}
		}
	}
	return has["symbol"] && has["qty"]
}

// record is one CSV row with its line number.
type record struct {
	line   int
	fields []string
}

func readCSV(path string, data []byte) ([]record, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var out []record
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, StatementError(path, pe.Line, "%v", pe.Err)
			}
			return nil, StatementError(path, 0, "%v", err)
		}
		line, _ := r.FieldPos(0)
		if blankRecord(rec) {
			continue
		}
		out = append(out, record{line: line, fields: rec})
	}
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// csvLayout names the layout of an IBKR CSV from its first row.
func csvLayout(first []string) string {
	head := strings.TrimSpace(first[0])
	switch {
	case head == "BOF" || head == "HEADER" || head == "BOA" || head == "BOS":
		return LayoutFlexSections
	case len(first) >= 2 && (strings.TrimSpace(first[1]) == "Header" || strings.TrimSpace(first[1]) == "Data") &&
		normHeader(first[0]) != "" && !strings.ContainsAny(head, "0123456789"):
		return LayoutActivity
	}
	return LayoutTable
}

// ibkrParser gathers positions across rows and accounts.
type ibkrParser struct {
	path     string
	out      map[string]Position
	byAcct   map[string]int // "account\x00symbol" -> first line
	ignored  map[string]bool
	order    []string
	accounts map[string]bool
	weights  map[string]float64 // symbol -> sum of |qty| behind AvgPrice
}

func parseIBKR(path string, data []byte) (Statement, error) {
	st := Statement{Path: path, Format: FormatIBKRCSV, Broker: "ibkr"}
	recs, err := readCSV(path, data)
	if err != nil {
		return st, err
	}
	if len(recs) == 0 {
		return st, StatementError(path, 1, "empty file: want a header row with Symbol and Quantity")
	}
	p := &ibkrParser{path: path, out: map[string]Position{}, byAcct: map[string]int{}, ignored: map[string]bool{},
		accounts: map[string]bool{}, weights: map[string]float64{}}
	st.Layout = csvLayout(recs[0].fields)
	switch st.Layout {
	case LayoutActivity:
		err = p.activity(recs)
	case LayoutFlexSections:
		err = p.flexSections(recs)
	default:
		err = p.table(recs)
	}
	if err != nil {
		return st, err
	}
	st.Positions = p.out
	st.Ignored = p.order
	for a := range p.accounts {
		st.Accounts = append(st.Accounts, a)
	}
	sort.Strings(st.Accounts)
	return st, nil
}

func (p *ibkrParser) ignore(c *columns) {
	for _, h := range c.ignored {
		if !p.ignored[h] {
			p.ignored[h] = true
			p.order = append(p.order, h)
		}
	}
}

// table reads a header row and position rows. A repeat of the header is
// skipped; a different header means another report is mixed in.
func (p *ibkrParser) table(recs []record) error {
	c, err := readHeader(p.path, recs[0].line, recs[0].fields)
	if err != nil {
		return err
	}
	p.ignore(c)
	for _, r := range recs[1:] {
		if c.sameHeader(r.fields) {
			continue
		}
		if c.looksLikeHeader(r.fields) {
			return StatementError(p.path, r.line, "a second, different header row (another report section?): export the Open Positions section alone")
		}
		if err := p.row(c, r); err != nil {
			return err
		}
	}
	return nil
}

// flexSections reads a Flex Query CSV with headers and trailers, using
// only the Open Positions section (code POST).
func (p *ibkrParser) flexSections(recs []record) error {
	var c *columns
	found := false
	for _, r := range recs {
		kind := strings.TrimSpace(r.fields[0])
		code := ""
		if len(r.fields) > 1 {
			code = strings.TrimSpace(r.fields[1])
		}
		switch kind {
		case "BOF", "BOA", "BOS", "EOS", "EOA", "EOF":
			continue
		case "HEADER":
			if code != "POST" {
				continue
			}
			var err error
			if c, err = readHeader(p.path, r.line, r.fields[2:]); err != nil {
				return err
			}
			p.ignore(c)
			found = true
		case "DATA":
			if code != "POST" {
				continue
			}
			if c == nil {
				return StatementError(p.path, r.line, "Open Positions data before its HEADER row")
			}
			if err := p.row(c, record{line: r.line, fields: r.fields[2:]}); err != nil {
				return err
			}
		default:
			return StatementError(p.path, r.line, "row kind %q: want BOF, BOA, BOS, HEADER, DATA, EOS, EOA or EOF in a Flex Query with headers and trailers", kind)
		}
	}
	if !found {
		return StatementError(p.path, 0, "no Open Positions section (POST): add Open Positions to the Flex Query")
	}
	return nil
}

// activity reads the Open Positions section of an Activity Statement.
// Each Header row starts a new table (asset categories may differ);
// Total, SubTotal and Notes rows and other sections are skipped.
func (p *ibkrParser) activity(recs []record) error {
	var c *columns
	found := false
	for _, r := range recs {
		if len(r.fields) < 2 || !strings.EqualFold(strings.TrimSpace(r.fields[0]), "Open Positions") {
			continue
		}
		switch strings.TrimSpace(r.fields[1]) {
		case "Header":
			var err error
			if c, err = readHeader(p.path, r.line, r.fields[2:]); err != nil {
				return err
			}
			p.ignore(c)
			found = true
		case "Data":
			if c == nil {
				return StatementError(p.path, r.line, "Open Positions data before its Header row")
			}
			if err := p.row(c, record{line: r.line, fields: r.fields[2:]}); err != nil {
				return err
			}
		}
	}
	if !found {
		return StatementError(p.path, 0, "no Open Positions section: produce the Activity Statement with Open Positions included")
	}
	return nil
}

// row reads one position row. Lot rows are skipped (the Summary row
// carries the position); positions of one symbol in several accounts are
// added up, since the database holds one position per broker and symbol.
func (p *ibkrParser) row(c *columns, r record) error {
	rec := r.fields
	if len(rec) != len(c.header) {
		return StatementError(p.path, r.line, "%d fields, the header has %d", len(rec), len(c.header))
	}
	if i, ok := c.idx["level"]; ok {
		switch strings.ToLower(strings.TrimSpace(rec[i])) {
		case "summary", "":
		default: // Lot, and detail rows of any other kind
			return nil
		}
	}
	pos := Position{Line: r.line, Symbol: strings.TrimSpace(rec[c.idx["symbol"]])}
	if pos.Symbol == "" {
		return StatementError(p.path, r.line, "empty %s", strings.TrimSpace(c.header[c.idx["symbol"]]))
	}
	var err error
	qi := c.idx["qty"]
	if pos.Qty, err = number(rec[qi]); err != nil {
		return StatementError(p.path, r.line, "%s %q: %v", strings.TrimSpace(c.header[qi]), rec[qi], err)
	}
	for _, f := range []struct {
		key string
		dst *float64
	}{{"avg", &pos.AvgPrice}, {"mark", &pos.MarkPrice}} {
		if i, ok := c.idx[f.key]; ok && !emptyCell(rec[i]) {
			if *f.dst, err = number(rec[i]); err != nil {
				return StatementError(p.path, r.line, "%s %q: %v", strings.TrimSpace(c.header[i]), rec[i], err)
			}
		}
	}
	if i, ok := c.idx["currency"]; ok {
		pos.Currency = strings.TrimSpace(rec[i])
	}
	if i, ok := c.idx["class"]; ok {
		pos.AssetClass = strings.TrimSpace(rec[i])
	}
	if i, ok := c.idx["side"]; ok {
		switch s := strings.ToLower(strings.TrimSpace(rec[i])); s {
		case "short", "sell", "s":
			if pos.Qty > 0 {
				pos.Qty = -pos.Qty
			}
		case "long", "buy", "b", "":
		default:
			return StatementError(p.path, r.line, "%s %q: want Long or Short", strings.TrimSpace(c.header[i]), rec[i])
		}
	}
	acct := ""
	if i, ok := c.idx["account"]; ok {
		acct = strings.TrimSpace(rec[i])
		if acct != "" {
			p.accounts[acct] = true
		}
	}
	k := acct + "\x00" + pos.Symbol
	if first, dup := p.byAcct[k]; dup {
		in := ""
		if acct != "" {
			in = " in account " + acct
		}
		return StatementError(p.path, r.line, "duplicate symbol %s%s (first on line %d)", pos.Symbol, in, first)
	}
	p.byAcct[k] = r.line
	prev, seen := p.out[pos.Symbol]
	if !seen {
		p.out[pos.Symbol] = pos
		p.weights[pos.Symbol] = abs(pos.Qty)
		return nil
	}
	if prev.Currency != "" && pos.Currency != "" && prev.Currency != pos.Currency {
		return StatementError(p.path, r.line, "%s in %s here and in %s on line %d: one position per symbol is compared", pos.Symbol, pos.Currency, prev.Currency, prev.Line)
	}
	w0, w1 := p.weights[pos.Symbol], abs(pos.Qty)
	if w0+w1 > 0 {
		prev.AvgPrice = (prev.AvgPrice*w0 + pos.AvgPrice*w1) / (w0 + w1)
	}
	prev.Qty += pos.Qty
	if prev.MarkPrice == 0 {
		prev.MarkPrice = pos.MarkPrice
	}
	p.weights[pos.Symbol] = w0 + w1
	p.out[pos.Symbol] = prev
	return nil
}

// emptyCell is a cell with no value: blank, or IBKR's "--".
func emptyCell(s string) bool {
	t := strings.TrimSpace(s)
	return t == "" || t == "--" || t == "-"
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// IBKRRows gathers the positions of IBKR rows handed over one at a time
// (the Client Portal API's answers, turned into the fields of a header),
// with the same checks as the rows of a CSV statement.
type IBKRRows struct {
	p    *ibkrParser
	cols *columns
	n    int
}

// NewIBKRRows starts gathering rows laid out as header; path names the
// source in messages.
func NewIBKRRows(path string, header []string) (*IBKRRows, error) {
	p := &ibkrParser{path: path, out: map[string]Position{}, byAcct: map[string]int{}, ignored: map[string]bool{},
		accounts: map[string]bool{}, weights: map[string]float64{}}
	cols, err := readHeader(path, 0, header)
	if err != nil {
		return nil, err
	}
	return &IBKRRows{p: p, cols: cols}, nil
}

// Add reads one row; its line number in messages is its place among all rows.
func (r *IBKRRows) Add(fields []string) error {
	r.n++
	return r.p.row(r.cols, record{line: r.n, fields: fields})
}

// Ignore notes, once, a field the source has and drbook does not read.
func (r *IBKRRows) Ignore(name string) {
	if !r.p.ignored[name] {
		r.p.ignored[name] = true
		r.p.order = append(r.p.order, name)
	}
}

// Positions returns the positions gathered so far, by symbol.
func (r *IBKRRows) Positions() map[string]Position { return r.p.out }

// Ignored lists, in the order met, the fields noted with Ignore.
func (r *IBKRRows) Ignored() []string { return r.p.order }
