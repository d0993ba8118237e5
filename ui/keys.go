package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key drbook answers to. The same map drives key matching
// and the help shown in the footer and on '?'.
type KeyMap struct {
	Up, Down, PageUp, PageDown key.Binding
	Left, Right, Tab           key.Binding

	Enter    key.Binding // run the step's action / acknowledge a manual step
	Select   key.Binding // enter on the home screen and forms
	More     key.Binding // page down on the home screen
	Done     key.Binding
	Skip     key.Binding
	Fail     key.Binding
	Note     key.Binding
	Cancel   key.Binding // cancel the running action
	Timeline key.Binding
	Report   key.Binding
	Comms    key.Binding
	Contacts key.Binding
	Back     key.Binding
	Quit     key.Binding
	Help     key.Binding
	Close    key.Binding // close the incident once every step is settled
	Severity key.Binding // change the severity, with a reason
}

// DefaultKeyMap is drbook's key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "scroll up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "scroll down")),
		Left:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/→", "change value")),
		Right:    key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→", "next value")),
		Tab:      key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run/ack")),
		Select:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "select")),
		More:     key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "drills & schedule")),
		Done:     key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "done")),
		Skip:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip")),
		Fail:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "failed")),
		Note:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "note")),
		Cancel:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel action")),
		Timeline: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timeline")),
		Report:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "report")),
		Comms:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "comms")),
		Contacts: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "contacts")),
		Close:    key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "close incident")),
		Severity: key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "severity")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "keys")),
	}
}

// incidentKeys is the help.KeyMap of the incident view.
type incidentKeys struct {
	k        KeyMap
	readOnly bool
}

func (h incidentKeys) ShortHelp() []key.Binding {
	if h.readOnly {
		return []key.Binding{h.k.Up, h.k.Timeline, h.k.Report, h.k.Help, h.k.Quit}
	}
	return []key.Binding{h.k.Enter, h.k.Done, h.k.Skip, h.k.Fail, h.k.Note, h.k.Help, h.k.Quit}
}

func (h incidentKeys) FullHelp() [][]key.Binding {
	if h.readOnly {
		return [][]key.Binding{
			{h.k.Up, h.k.Down, h.k.PageUp, h.k.PageDown},
			{h.k.Timeline, h.k.Report, h.k.Comms, h.k.Contacts},
			{h.k.Back, h.k.Help, h.k.Quit},
		}
	}
	return [][]key.Binding{
		{h.k.Up, h.k.Down, h.k.PageUp, h.k.PageDown, h.k.Back, h.k.Help},
		{h.k.Enter, h.k.Done, h.k.Skip, h.k.Fail, h.k.Note, h.k.Cancel, h.k.Severity},
		{h.k.Timeline, h.k.Report, h.k.Comms, h.k.Contacts, h.k.Close, h.k.Quit},
	}
}

// homeKeys is the help.KeyMap of the home screen.
type homeKeys struct{ k KeyMap }

func (h homeKeys) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Up, h.k.Down, h.k.Select, h.k.More, h.k.Quit}
}

func (h homeKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{h.k.Up, h.k.Down, h.k.Select}, {h.k.Quit}}
}

// formKeys is the help.KeyMap of the start form.
type formKeys struct{ k KeyMap }

func (h formKeys) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Up, h.k.Down, h.k.Left, h.k.Select, h.k.Back}
}

func (h formKeys) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }
