-- Version 3: when each incident was last written, in wall-clock time.
-- last_at is incident time, which a sped-up drill runs far ahead of; the
-- "most recently active" incident (drbook resume with no id) is chosen by
-- touched instead.
ALTER TABLE incidents ADD COLUMN touched TEXT NOT NULL DEFAULT '';

UPDATE incidents SET touched = last_at;

CREATE INDEX incidents_touched ON incidents(status, touched);
