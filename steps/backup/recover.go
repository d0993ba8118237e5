package backup

import (
	"context"

	"github.com/drbook/drbook/steps/salvage"
)

// The salvage of a damaged database lives in package salvage, the floor the
// SQL runner's .recover shares; these names keep backup's API.
type (
	// RecoverReport says how a salvage went.
	RecoverReport = salvage.RecoverReport
	// RecoverOptions tunes Recover.
	RecoverOptions = salvage.RecoverOptions
)

// Recover salvages what it can read from the database src into the new
// file dst (see salvage.Recover).
func Recover(ctx context.Context, src, dst string, o RecoverOptions) (*RecoverReport, error) {
	return salvage.Recover(ctx, src, dst, o)
}
