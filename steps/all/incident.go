package all

import _ "github.com/drbook/drbook/runbook/incident" // notify (run by the incident engine)
