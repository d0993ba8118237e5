package backup

import (
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// specs declares the backup actions.
var specs = map[string]steps.Spec{
	"backup": steps.Spec{
		Name:    "backup",
		Summary: "Take a consistent, compressed, AES-256 encrypted, verified backup of the system.",
		Params: []steps.Param{
			{Name: "tier", Doc: "1, 2 or 3 (plan 1.1)", Default: "1"},
			{Name: "to", Doc: "local backup directory"},
			{Name: "s3", Doc: "s3://bucket/prefix to copy the backup to"},
			{Name: "s3-endpoint", Doc: "S3-compatible endpoint URL; empty for AWS"},
			{Name: "s3-region", Doc: "S3 region"},
			{Name: "s3-path-style", Doc: "true or false: path-style S3 addressing; default: path-style with an endpoint"},
		},
		Drill:   runbook.DrillRun,
		Timeout: 2 * time.Hour,
	},
	"restore": steps.Spec{
		Name:    "restore",
		Summary: "Restore the system from a verified backup, keeping the current files aside.",
		Params: []steps.Param{
			{Name: "from", Doc: "latest, a path, or s3://...", Default: "latest"},
			{Name: "only", Doc: "comma-separated parts: db, config, env, logs"},
			{Name: "s3", Doc: "s3://bucket/prefix searched too for latest"},
			{Name: "s3-endpoint", Doc: "S3-compatible endpoint URL; empty for AWS"},
			{Name: "s3-region", Doc: "S3 region"},
			{Name: "s3-path-style", Doc: "true or false: path-style S3 addressing; default: path-style with an endpoint"},
			{Name: "to", Doc: "local backup directory searched for latest"},
			{Name: "max-expand", Doc: "cap on what an archive without a manifest unpacks to: a multiple of its size (200x) or a size (5GiB)"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
		Timeout:     2 * time.Hour,
	},
	"restore-config": steps.Spec{
		Name:    "restore-config",
		Summary: "Restore config/ and .env from a backup, keeping the current files aside.",
		Params: []steps.Param{
			{Name: "from", Doc: "latest, a path, or s3://...", Default: "latest"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
	},
}
