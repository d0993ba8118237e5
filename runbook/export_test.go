package runbook

// SetCatchPanics lets tests see a parser panic's stack.
func SetCatchPanics(on bool) { catchPanics = on }
