// Package runbooks holds drbook's embedded runbooks: the QuantAI disaster
// recovery plan turned into executable Markdown, one file per procedure.
// The file name without ".md" is the runbook's id.
package runbooks

import "embed"

// FS holds the embedded runbooks, *.md at its root.
//
//go:embed *.md
var FS embed.FS
