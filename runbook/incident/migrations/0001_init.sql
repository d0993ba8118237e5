-- drbook state database, version 1: incidents and their hash-chained timelines.

-- One row per incident: a cache of the declared event for listing, and the
-- chain head (last seq and hash), updated in the same transaction as every
-- append so that a deleted last event is caught by Verify.
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    runbook     TEXT NOT NULL,
    title       TEXT NOT NULL,
    mode        TEXT NOT NULL,
    severity    INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',
    drill_test  TEXT NOT NULL DEFAULT '',
    operator    TEXT NOT NULL DEFAULT '',
    declared_at TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    closed_at   TEXT NOT NULL DEFAULT '',
    last_at     TEXT NOT NULL,
    head_seq    INTEGER NOT NULL DEFAULT 0,
    head_hash   TEXT NOT NULL DEFAULT ''
) STRICT;

-- The timeline. Append-only; hash = sha256(prev_hash || canonical content).
CREATE TABLE events (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    phase       TEXT NOT NULL DEFAULT '',
    step        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX incidents_status ON incidents(status, last_at);
