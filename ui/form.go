package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/hint"
)

// StartSpec is what the operator asked to start from the home screen or
// the command line: a drill against a sandbox or a live incident.
type StartSpec struct {
	Runbook  string
	Drill    bool
	Scenario string  // fault to inject in the sandbox; "" for none
	Speed    float64 // drill clock speed factor; 1 is real time
	Severity int     // 0: the runbook's default
	Title    string
	// DetectedAgo backdates the incident's start: the outage began this
	// long before it was declared. 0 means now.
	DetectedAgo time.Duration
	// Vars are the runbook variables' values; nil takes the defaults.
	Vars map[string]string
}

type formField int

const (
	fieldRunbook formField = iota
	fieldMode
	fieldScenario
	fieldSpeed
	fieldSeverity
	fieldTitle
	fieldDetected
	fieldCount
)

var speeds = []float64{1, 10, 60, 600}

// form is the start screen: choose runbook, live or drill, fault, speed,
// severity, title and when the outage was detected.
type form struct {
	c        *common
	live     bool
	runbooks []RunbookItem
	faults   []FaultItem
	field    formField
	rb       int
	drill    bool
	fault    int   // index into faults; len(faults) means none
	stacked  []int // faults injected before it ('+' on the fault field), in order
	speed    int
	severity int
	title    textinput.Model
	detected textinput.Model
	vars     []textinput.Model // the selected runbook's variables
	errMsg   string
}

// defaultFault selects the selected runbook's own fault scenario.
func (f form) defaultFault() form {
	want := DefaultScenario
	if len(f.runbooks) > 0 {
		want = drill.DefaultScenario(f.runbooks[f.rb].ID)
	}
	f.fault, f.stacked = len(f.faults), nil
	for i, ft := range f.faults {
		if ft.Name == want {
			f.fault = i
		}
	}
	return f
}

// fields is the number of fields: the fixed ones, then one per variable.
func (f form) fields() formField { return fieldCount + formField(len(f.vars)) }

func (f form) isText(fl formField) bool {
	return fl == fieldTitle || fl == fieldDetected || fl >= fieldCount
}

// withVars makes an input per variable of the selected runbook, filled
// with its default (for a live incident, the site configuration's value).
func (f form) withVars() form {
	f.vars = nil
	if len(f.runbooks) == 0 {
		return f
	}
	for _, v := range f.runbooks[f.rb].Vars {
		in := textinput.New()
		in.Prompt = ""
		in.CharLimit = 500
		in.Width = 40
		in.Placeholder = v.Prompt
		in.SetValue(v.value(f.drill))
		if v.Secret {
			in.EchoMode = textinput.EchoPassword
		}
		f.vars = append(f.vars, in)
	}
	return f
}

// formStartMsg asks the root model to start what the form describes.
type formStartMsg struct{ spec StartSpec }

func newForm(c *common, live bool, d HomeData, runbookID string) form {
	f := form{c: c, live: live, runbooks: d.Runbooks, faults: d.Faults, drill: !live, severity: 1}
	for i, rb := range d.Runbooks {
		if rb.ID == runbookID {
			f.rb = i
		}
	}
	f = f.defaultFault()
	f.title = textinput.New()
	f.title.Prompt = ""
	f.title.Placeholder = "what happened (optional)"
	f.title.CharLimit = 200
	f.title.Width = 40
	f.detected = textinput.New()
	f.detected.Prompt = ""
	f.detected.Placeholder = "e.g. 20m (optional: how long ago it started)"
	f.detected.CharLimit = 20
	f.detected.Width = 40
	return f.withVars()
}

func (f form) update(msg tea.Msg) (form, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return f, nil
	}
	text := f.isText(f.field)
	switch {
	case k.Type == tea.KeyEnter:
		spec, err := f.spec()
		if err != nil {
			f.errMsg = hint.Message(err)
			return f, nil
		}
		return f, func() tea.Msg { return formStartMsg{spec} }
	case k.Type == tea.KeyUp, k.Type == tea.KeyShiftTab, !text && key.Matches(k, f.c.keys.Up):
		f.field = (f.field + f.fields() - 1) % f.fields()
		return f.focus(), nil
	case k.Type == tea.KeyDown, k.Type == tea.KeyTab, !text && key.Matches(k, f.c.keys.Down):
		f.field = (f.field + 1) % f.fields()
		return f.focus(), nil
	case f.field == fieldScenario && f.drill && (k.String() == "+" || k.String() == "-"):
		f = f.stack(k.String() == "+")
		return f, nil
	case !text && (key.Matches(k, f.c.keys.Left) || key.Matches(k, f.c.keys.Right) || k.String() == " "):
		d := 1
		if key.Matches(k, f.c.keys.Left) {
			d = -1
		}
		f = f.cycle(d)
		return f, nil
	}
	var cmd tea.Cmd
	switch f.field {
	case fieldTitle:
		f.title, cmd = f.title.Update(msg)
	case fieldDetected:
		f.detected, cmd = f.detected.Update(msg)
	default:
		if i := int(f.field - fieldCount); i >= 0 && i < len(f.vars) {
			f.vars[i], cmd = f.vars[i].Update(msg)
		}
	}
	return f, cmd
}

func (f form) focus() form {
	f.title.Blur()
	f.detected.Blur()
	for i := range f.vars {
		f.vars[i].Blur()
	}
	switch f.field {
	case fieldTitle:
		f.title.Focus()
	case fieldDetected:
		f.detected.Focus()
	default:
		if i := int(f.field - fieldCount); i >= 0 && i < len(f.vars) {
			f.vars[i].Focus()
		}
	}
	return f
}

func wrap(i, d, n int) int {
	if n == 0 {
		return 0
	}
	return ((i+d)%n + n) % n
}

func (f form) cycle(d int) form {
	f.errMsg = ""
	switch f.field {
	case fieldRunbook:
		f.rb = wrap(f.rb, d, len(f.runbooks))
		f = f.withVars().defaultFault()
	case fieldMode:
		if f.live {
			f.drill = !f.drill
			// A variable still at the other mode's value takes this
			// one's: a drill never gets the real site's failover values.
			for i, v := range f.runbooks[f.rb].Vars {
				if i < len(f.vars) && f.vars[i].Value() == v.value(!f.drill) {
					f.vars[i].SetValue(v.value(f.drill))
				}
			}
		} else {
			f.errMsg = "live incidents need drbook --live --root DIR"
		}
	case fieldScenario:
		f.fault = wrap(f.fault, d, len(f.faults)+1)
	case fieldSpeed:
		f.speed = wrap(f.speed, d, len(speeds))
	case fieldSeverity:
		f.severity = wrap(f.severity-1, d, 3) + 1
	}
	return f
}

// stack puts the shown fault on the stack of faults injected together
// (push), or takes the last one back into view (pop). A fault is stacked
// once; "none" is not stacked.
func (f form) stack(push bool) form {
	f.errMsg = ""
	switch {
	case push && f.fault < len(f.faults) && !slices.Contains(f.stacked, f.fault):
		f.stacked = append(f.stacked, f.fault)
		f.fault = len(f.faults)
	case push:
		f.errMsg = "choose a fault not yet stacked with ←/→, then +"
	case len(f.stacked) > 0:
		f.fault = f.stacked[len(f.stacked)-1]
		f.stacked = f.stacked[:len(f.stacked)-1]
	}
	return f
}

// scenario is the faults to inject, in order: the stacked ones, then the
// shown one; "" for none.
func (f form) scenario() string {
	var names []string
	for _, i := range append(slices.Clone(f.stacked), f.fault) {
		if i < len(f.faults) && !slices.Contains(names, f.faults[i].Name) {
			names = append(names, f.faults[i].Name)
		}
	}
	return strings.Join(names, ",")
}

func (f form) spec() (StartSpec, error) {
	if len(f.runbooks) == 0 {
		return StartSpec{}, fmt.Errorf("no runbooks to start")
	}
	s := StartSpec{
		Runbook:  f.runbooks[f.rb].ID,
		Drill:    f.drill,
		Severity: f.severity,
		Title:    strings.TrimSpace(f.title.Value()),
		Speed:    1,
	}
	if f.drill {
		s.Speed = speeds[f.speed]
		s.Scenario = f.scenario()
	}
	for i, v := range f.runbooks[f.rb].Vars {
		if i < len(f.vars) && strings.TrimSpace(f.vars[i].Value()) != "" {
			if s.Vars == nil {
				s.Vars = map[string]string{}
			}
			s.Vars[v.Name] = strings.TrimSpace(f.vars[i].Value())
		}
	}
	if v := strings.TrimSpace(f.detected.Value()); v != "" {
		d, err := parseAgo(v)
		if err != nil {
			return StartSpec{}, err
		}
		s.DetectedAgo = d
	}
	return s, nil
}

// parseAgo reads "20m", "1h30m" or a bare number of minutes.
func parseAgo(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("detected: %q is not a duration like 20m or 1h30m", v)
	}
	return d, nil
}

func (f form) view(w, h int) string {
	st := f.c.styles
	mode := "DRILL against a new sandbox"
	if !f.drill {
		mode = "LIVE on the real system"
	}
	fault := "none"
	faultDesc := ""
	if f.fault < len(f.faults) {
		fault = f.faults[f.fault].Name
		faultDesc = f.faults[f.fault].Description
	}
	rb := "(none)"
	if len(f.runbooks) > 0 {
		rb = f.runbooks[f.rb].ID
	}
	rows := []struct {
		field formField
		name  string
		value string
	}{
		{fieldRunbook, "Runbook", "< " + rb + " >"},
		{fieldMode, "Mode", "< " + mode + " >"},
		{fieldScenario, "Fault", stackedView(f) + "< " + fault + " >"},
		{fieldSpeed, "Clock speed", fmt.Sprintf("< x%g >", speeds[f.speed])},
		{fieldSeverity, "Severity", fmt.Sprintf("< %d >", f.severity)},
		{fieldTitle, "Title", f.title.View()},
		{fieldDetected, "Detected ago", f.detected.View()},
	}
	lines := []string{st.title.Render("Start a drill or incident"), st.dim.Render(strings.Repeat("-", w)), ""}
	for _, r := range rows {
		if !f.drill && (r.field == fieldScenario || r.field == fieldSpeed) {
			continue
		}
		prefix := "  "
		name := fmt.Sprintf("%-13s", r.name)
		if r.field == f.field {
			prefix = "> "
			name = st.selected.Render(name)
		}
		lines = append(lines, ansi.Truncate(prefix+name+" "+r.value, w, "…"))
	}
	if len(f.vars) > 0 && len(f.runbooks) > 0 {
		lines = append(lines, "", "  Runbook variables:")
		for i, v := range f.runbooks[f.rb].Vars {
			prefix := "  "
			name := fmt.Sprintf("%-13s", ansi.Truncate(v.Name, 13, "…"))
			if f.field == fieldCount+formField(i) {
				prefix = "> "
				name = st.selected.Render(name)
			}
			lines = append(lines, ansi.Truncate(prefix+name+" "+f.vars[i].View(), w, "…"))
		}
	}
	lines = append(lines, "")
	if faultDesc != "" && f.drill {
		lines = append(lines, ansi.Truncate("  Fault: "+faultDesc, w, "…"))
	}
	if f.errMsg != "" {
		lines = append(lines, st.errLine.Render(f.errMsg))
	}
	help := "  enter: start   ←/→: change   ↑/↓: field   esc: back"
	if f.field == fieldScenario && f.drill {
		help = "  ←/→: fault   +: stack it with another   -: unstack   enter: start"
	}
	lines = append(lines, "", st.info.Render(help))
	return strings.Join(lines, "\n")
}

// stackedView is the stacked faults before the shown one: "corrupt-db + ".
func stackedView(f form) string {
	var b strings.Builder
	for _, i := range f.stacked {
		b.WriteString(f.faults[i].Name + " + ")
	}
	return b.String()
}
