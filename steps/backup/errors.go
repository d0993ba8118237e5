package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/drbook/drbook/runbook/hint"
)

// Conditions callers test with errors.Is. Those made with hint.NewInput
// are bad input (the command line exits 2); the others are findings.
var (
	// ErrWrongPassphrase means the archive decrypted with the wrong key.
	ErrWrongPassphrase = hint.NewInput("wrong passphrase")
	// ErrCorrupt means the archive is damaged: bad hash, bad MDC, bad
	// gzip stream, truncated, or its contents disagree with the manifest.
	ErrCorrupt = hint.NewInput("backup archive is corrupt")
	// ErrUnsafeArchive means a tar entry tried to leave the staging
	// directory or was not a regular file or directory.
	ErrUnsafeArchive = hint.NewInput("unsafe entry in backup archive")
	// ErrNoBackup means no backup that counts (verified) was found.
	ErrNoBackup = hint.NewInput("no verified backup found")
	// ErrNoPassphrase means no passphrase source was available.
	ErrNoPassphrase = hint.NewInput("no passphrase")
	// ErrNotConfirmed is returned by a restore that was not confirmed.
	ErrNotConfirmed = errors.New("restore not confirmed")
	// ErrCheckFailed means the staged or restored database failed its checks.
	ErrCheckFailed = errors.New("restored data failed its checks")
)

// Error is an error with what the operator should do next. hint.Of finds
// the advice anywhere in a wrapped chain.
type Error struct {
	Err    error
	Advice string // what to do next; may be empty
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Hint returns the advice; it makes *Error a hint.Hinter.
func (e *Error) Hint() string { return e.Advice }

var _ hint.Hinter = (*Error)(nil)

// ErrStore means a backup store (S3) could not be read: unreachable,
// access denied, no such bucket. It is unreadable input, not a finding
// about the backups.
var ErrStore = hint.NewInput("cannot read the backup store")

// storeErr wraps an S3 failure with ErrStore, keeping its own chain.
func storeErr(err error) error {
	if err == nil || errors.Is(err, ErrStore) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStore, err)
}
