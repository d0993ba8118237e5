package reconcile

import "github.com/drbook/drbook/steps/positions"

// Broker statements are read by package positions, the floor reconciliation
// shares with the failover plan; these names keep reconcile's API.
type (
	// Position is one line of a broker statement.
	Position = positions.Position
	// Statement is a broker's positions statement.
	Statement = positions.Statement
)

// Statement formats, layouts and default files (see package positions).
const (
	FormatIBKRCSV      = positions.FormatIBKRCSV
	FormatAlpacaJSON   = positions.FormatAlpacaJSON
	LayoutTable        = positions.LayoutTable
	LayoutFlexSections = positions.LayoutFlexSections
	LayoutActivity     = positions.LayoutActivity
	IBKRStatement      = positions.IBKRStatement
	AlpacaStatement    = positions.AlpacaStatement
)

var (
	// Formats lists the statement formats drbook reads.
	Formats = positions.Formats
	// ErrBadStatement is the cause of every problem with a statement's
	// content.
	ErrBadStatement = positions.ErrBadStatement
)

// BrokerOf returns the broker whose statements come in format.
func BrokerOf(format string) string { return positions.BrokerOf(format) }

// DetectFormat tells a statement's format from its name and content.
func DetectFormat(path string, data []byte) (string, error) {
	return positions.DetectFormat(path, data)
}

// ReadStatement reads and parses the statement at path (see
// positions.ReadStatement).
func ReadStatement(path, format string) (Statement, error) {
	return positions.ReadStatement(path, format)
}

// ParseStatement parses a statement's bytes (see positions.ParseStatement).
func ParseStatement(path string, data []byte, format string) (Statement, error) {
	return positions.ParseStatement(path, data, format)
}
