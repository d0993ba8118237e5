package incident

import "github.com/drbook/drbook/steps"

// ErrNeedsIncident is returned by the notify action run outside an
// incident: RunStep carries notify out itself, with the incident's
// template and channels (the registered action is notifystep.Action).
var ErrNeedsIncident = steps.ErrNeedsIncident
