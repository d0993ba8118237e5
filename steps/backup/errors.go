package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/drbook/drbook/steps/salvage"
)

// Conditions callers test with errors.Is.
var (
	// ErrWrongPassphrase means the archive decrypted with the wrong key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrCorrupt means the archive is damaged: bad hash, bad MDC, bad
	// gzip stream, truncated, or its contents disagree with the manifest.
	ErrCorrupt = errors.New("backup archive is corrupt")
	// ErrUnsafeArchive means a tar entry tried to leave the staging
	// directory or was not a regular file or directory.
	ErrUnsafeArchive = errors.New("unsafe entry in backup archive")
	// ErrNoBackup means no backup that counts (verified) was found.
	ErrNoBackup = errors.New("no verified backup found")
	// ErrNoPassphrase means no passphrase source was available.
	ErrNoPassphrase = errors.New("no passphrase")
	// ErrNotConfirmed is returned by a restore that was not confirmed.
	ErrNotConfirmed = errors.New("restore not confirmed")
	// ErrCheckFailed means the staged or restored database failed its checks.
	ErrCheckFailed = errors.New("restored data failed its checks")
)

// Error is an error with a hint for the operator.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Hint returns the operator hint of the first *Error in err's chain.
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	var se *salvage.Error
	if errors.As(err, &se) {
		return se.Hint
	}
	return ""
}

// ErrStore means a backup store (S3) could not be read: unreachable,
// access denied, no such bucket. It is unreadable input, not a finding
// about the backups.
var ErrStore = errors.New("cannot read the backup store")

// storeErr wraps an S3 failure with ErrStore, keeping its own chain.
func storeErr(err error) error {
	if err == nil || errors.Is(err, ErrStore) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStore, err)
}
