// Package backup takes and restores QuantAI's backups: a consistent SQLite
// snapshot (the online backup API) plus config/, .env and, by tier, logs/,
// written as one tar stream, gzip-compressed in parallel and encrypted with
// OpenPGP symmetric AES-256 (SEIPD v1 with MDC) so that a plain
// `gpg --decrypt | tar xz` on any jump host opens it, exactly like the
// plan's own script.
//
// Every archive is read back and re-hashed before it counts; it is written
// as a temp file, fsynced and renamed, and only then is its JSON manifest
// written beside it, so an archive without a manifest is never "latest".
// Restore stages everything on the system's own filesystem, checks the
// staged database, and swaps files in with renames, keeping the originals
// aside as <name>.pre-restore-<stamp>. Everything streams: memory use does
// not grow with the database.
package backup
