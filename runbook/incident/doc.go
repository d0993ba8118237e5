// Package incident runs an incident (or a drill): one run of a runbook.
//
// Everything the operator and drbook do is appended, durably and
// hash-chained, to a timeline in a SQLite state database (Store). The
// incident's state is never kept anywhere else: State is rebuilt from the
// timeline alone, so a killed process or a dropped SSH session loses nothing
// and Open resumes exactly where the timeline ends. Clocks computes, from a
// State and a time, where recovery stands against the runbook's RTO, RPO,
// MTD, phase windows and the severity's response time; Report, Comms and the
// timeline writers turn a State into the plan's post-incident report and
// communication templates.
//
// Secrets (runbook variables marked secret, .env values, passphrases) are
// replaced by [REDACTED] before anything is recorded, so they never reach
// the timeline or an export.
//
// The package knows nothing of the terminal: the TUI and the CLI are views
// on it. An Incident is safe for concurrent use: the TUI runs a step in a
// tea.Cmd goroutine while its Update reads State.
package incident
