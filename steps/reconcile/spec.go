package reconcile

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// spec declares the reconcile action.
var spec = steps.Spec{
	Name:    "reconcile",
	Summary: "Compare database positions with broker statements and with filled trades.",
	Params: []steps.Param{
		{Name: "broker", Doc: "comma-separated statement files, alpaca-api or ibkr-api; default: the statements under the root"},
		{Name: "format", Doc: "ibkr-csv or alpaca-json; detected when omitted"},
		{Name: "tolerance", Doc: "quantity difference ignored (fractional shares)", Default: "0.0001"},
		{Name: "evidence", Doc: "directory to keep the statements read in; default within an incident: STATE_DIR/evidence/ID"},
		{Name: "dir", Doc: "directory relative statement paths are read from; default the system root; . the working directory"},
		{Name: "alpaca-url", Doc: "Alpaca API base URL; default ALPACA_BASE_URL, else https://paper-api.alpaca.markets"},
		{Name: "ibkr-url", Doc: "IBKR Client Portal gateway URL; default IBKR_CP_URL, else https://localhost:5000/v1/api"},
		{Name: "ibkr-account", Doc: "IBKR account to read; default every account the gateway lists"},
		{Name: "api-timeout", Doc: "time limit for a broker API", Default: "15s"},
	},
	Drill: runbook.DrillRun,
}

// adoptSpec declares the adopt-positions action.
var adoptSpec = steps.Spec{
	Name:    "adopt-positions",
	Summary: "Set positions where the broker's statement and the filled trades agree against the database to that quantity, one audit_trail row each; leave every other break for review.",
	Params: []steps.Param{
		{Name: "broker", Doc: "comma-separated statement files, alpaca-api or ibkr-api; default: the statements under the root"},
		{Name: "format", Doc: "ibkr-csv or alpaca-json; detected when omitted"},
		{Name: "tolerance", Doc: "quantity difference ignored (fractional shares)", Default: "0.0001"},
	},
	Destructive: true,
	Drill:       runbook.DrillRun,
}
