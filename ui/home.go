package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// HomeData is what the home screen lists; the Backend loads it in a Cmd.
type HomeData struct {
	Runbooks []RunbookItem
	Open     []IncidentItem
	Drills   []DrillItem
	Schedule []ScheduleItem
	Faults   []FaultItem
	Problems []string // runbooks that failed to load, stores that failed to read
}

type RunbookItem struct {
	ID, Title, Source string
	Vars              []VarItem
}

// VarItem is a runbook variable the start form asks for.
type VarItem struct {
	Name, Prompt, Default string
	// Site is the site configuration's value, which a live incident takes
	// over Default; "" when it gives none.
	Site   string
	Secret bool
}

// value is what the start form offers for the variable: the site's value
// for a live incident, else the runbook's default.
func (v VarItem) value(drill bool) string {
	if !drill && v.Site != "" {
		return v.Site
	}
	return v.Default
}

type IncidentItem struct {
	ID, Title, Runbook string
	Drill              bool
	Elapsed            time.Duration
}

type DrillItem struct {
	ID, Runbook, Scenario string
	When                  time.Time
	Recovery              time.Duration
	Recovered, RTOMet     bool
	Status                string
}

type ScheduleItem struct {
	Name     string
	Last     time.Time
	Due      time.Time
	Overdue  bool
	Never    bool
	Interval string
}

type FaultItem struct{ Name, Description string }

// homeAction is what choosing a home item does.
type homeAction int

const (
	actQuickDrill homeAction = iota
	actForm
	actResume
	actRunbook
)

type homeEntry struct {
	act  homeAction
	id   string // incident or runbook id
	text string
}

// home is the first screen: start a drill, start an incident, resume one.
type home struct {
	c       *common
	live    bool
	loading bool
	data    HomeData
	entries []homeEntry
	cursor  int
	extra   int // lines scrolled past the last choice
}

// homeChoiceMsg reports the operator's choice to the root model.
type homeChoiceMsg struct {
	act homeAction
	id  string
}

// DefaultRunbook and DefaultScenario are the drill the home screen offers
// first: the plan's complete system recovery after a corrupted database.
const (
	DefaultRunbook  = "complete-system-recovery"
	DefaultScenario = "corrupt-db"
)

func newHome(c *common, live bool) home {
	return home{c: c, live: live, loading: true}
}

func (h home) setData(d HomeData) home {
	h.loading = false
	h.data = d
	h.entries = nil
	title := DefaultRunbook
	for _, rb := range d.Runbooks {
		if rb.ID == DefaultRunbook {
			title = rb.Title
		}
	}
	if h.live {
		// Someone who typed --live means it: a live incident comes first.
		h.entries = append(h.entries, homeEntry{act: actForm, text: "Declare a LIVE incident (choose runbook, severity, title)..."})
		h.entries = append(h.entries, homeEntry{act: actQuickDrill,
			text: fmt.Sprintf("Start a drill: %s, fault %s (sandbox)", title, DefaultScenario)})
	} else {
		h.entries = append(h.entries, homeEntry{act: actQuickDrill,
			text: fmt.Sprintf("Start a drill: %s, fault %s", title, DefaultScenario)})
		h.entries = append(h.entries, homeEntry{act: actForm, text: "Start another drill (choose runbook, fault, speed)..."})
	}
	for _, in := range d.Open {
		mode := "LIVE"
		if in.Drill {
			mode = "DRILL"
		}
		h.entries = append(h.entries, homeEntry{act: actResume, id: in.ID,
			text: fmt.Sprintf("Resume %s %s (%s, %s)", in.ID, in.Title, mode, fmtDur(in.Elapsed))})
	}
	for _, rb := range d.Runbooks {
		h.entries = append(h.entries, homeEntry{act: actRunbook, id: rb.ID,
			text: fmt.Sprintf("%-30s %s", rb.ID, rb.Title)})
	}
	if h.cursor >= len(h.entries) {
		h.cursor = 0
	}
	return h
}

func (h home) update(msg tea.Msg) (home, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok || h.loading || len(h.entries) == 0 {
		return h, nil
	}
	switch {
	case key.Matches(k, h.c.keys.Up):
		switch {
		case h.extra > 0:
			h.extra--
		case h.cursor > 0:
			h.cursor--
		}
	case key.Matches(k, h.c.keys.Down):
		if h.cursor < len(h.entries)-1 {
			h.cursor++
		} else if h.extra < 40 {
			// Past the last choice, down scrolls the recent drills and
			// the schedule into view.
			h.extra++
		}
	case key.Matches(k, h.c.keys.PageDown):
		h.extra = min(h.extra+10, 40)
	case key.Matches(k, h.c.keys.PageUp):
		h.extra = max(h.extra-10, 0)
	case key.Matches(k, h.c.keys.Enter) && h.extra > 0:
		h.extra = 0 // bring the selected choice back into view first
	case key.Matches(k, h.c.keys.Enter):
		e := h.entries[h.cursor]
		return h, func() tea.Msg { return homeChoiceMsg{act: e.act, id: e.id} }
	}
	return h, nil
}

func (h home) view(w, ht int) string {
	st := h.c.styles
	var lines []string
	cursorLine := 0
	mode := st.drillBadge.Render("[DRILL]") + " sandbox only"
	if h.live {
		mode = st.liveBadge.Render("[LIVE]") + " --live: real system"
	}
	lines = append(lines, pad(st.title.Render("drbook")+"  disaster-recovery runbooks", w-ansi.StringWidth(mode)-1)+mode)
	lines = append(lines, st.dim.Render(strings.Repeat("-", w)))
	if h.loading {
		lines = append(lines, "loading runbooks and incidents...")
		return strings.Join(lines, "\n")
	}
	entryLine := map[int]int{}
	section := func(name string) { lines = append(lines, "", st.bold.Render(name)) }
	addEntry := func(i int) {
		e := h.entries[i]
		prefix := "  "
		text := ansi.Truncate(e.text, w-2, "…")
		if i == h.cursor {
			prefix = "> "
			text = st.selected.Render(text)
		}
		entryLine[i] = len(lines)
		lines = append(lines, prefix+text)
	}
	i := 0
	for ; i < len(h.entries) && h.entries[i].act <= actForm; i++ {
		addEntry(i)
		if h.entries[i].act == actQuickDrill {
			lines = append(lines, st.dim.Render("    builds a sandbox, breaks its database, then guides you step by step"))
		}
	}
	if i < len(h.entries) && h.entries[i].act == actResume {
		section("Open incidents (enter to resume)")
		for ; i < len(h.entries) && h.entries[i].act == actResume; i++ {
			addEntry(i)
		}
	}
	if i < len(h.entries) {
		section("Runbooks (enter to start)")
		for ; i < len(h.entries); i++ {
			addEntry(i)
		}
	}
	if len(h.data.Drills) > 0 {
		section("Recent drills")
		for _, d := range h.data.Drills {
			res := d.Status
			if d.Recovered {
				res = "recovered in " + fmtDur(d.Recovery)
				if d.RTOMet {
					res += ", RTO met"
				} else {
					res += ", RTO MISSED"
				}
			}
			lines = append(lines, ansi.Truncate(fmt.Sprintf("  %s %-30s %s / %s",
				d.When.Format("2006-01-02"), res, d.Runbook, d.Scenario), w, "…"))
		}
	}
	if len(h.data.Schedule) > 0 {
		section("Drill schedule")
		for _, s := range h.data.Schedule {
			state := "due " + s.Due.Format("2006-01-02")
			switch {
			case s.Overdue && s.Never:
				state = st.overdue.Render("OVERDUE (never run)")
			case s.Overdue:
				state = st.overdue.Render("OVERDUE since " + s.Due.Format("2006-01-02"))
			}
			lines = append(lines, ansi.Truncate(fmt.Sprintf("  %-38s %-9s %s", s.Name, s.Interval, state), w, "…"))
		}
	}
	for _, p := range h.data.Problems {
		lines = append(lines, st.warn.Render(ansi.Truncate("! "+p, w, "…")))
	}
	cursorLine = entryLine[h.cursor]
	// Keep the cursor visible: scroll the body, never the title lines.
	body := lines[2:]
	room := max(ht-2, 0) // a terminal of a line or two (or none yet) shows the title only
	off := 0
	if cursorLine-2 >= room {
		off = cursorLine - 2 - room + 1
	}
	off = min(off+h.extra, max(0, len(body)-room))
	if off > 0 {
		body = body[off:]
	}
	if len(body) > room {
		body = body[:room]
	}
	return strings.Join(append(lines[:2:2], body...), "\n")
}
