-- Version 4: replication of timelines to S3 (replica.go). One row per
-- incident that has been replicated or fetched: every event up to
-- replicated_seq is in S3 with the same hash; events after it are queued.
-- An incident without a row has nothing replicated yet. rebases counts
-- the times a refused write (another site got there first) re-sequenced
-- this site's queued events after the remote ones.
CREATE TABLE replication (
    incident_id    TEXT PRIMARY KEY REFERENCES incidents(id),
    replicated_seq INTEGER NOT NULL DEFAULT 0,
    rebases        INTEGER NOT NULL DEFAULT 0
) STRICT;
