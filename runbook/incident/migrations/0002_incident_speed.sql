-- Version 2: keep a drill's speed factor with the incident row, so that a
-- listing can show elapsed incident time without replaying timelines.
ALTER TABLE incidents ADD COLUMN speed REAL NOT NULL DEFAULT 0;

UPDATE incidents SET speed = COALESCE(
    (SELECT json_extract(data, '$.declared.speed') FROM events
      WHERE events.incident_id = incidents.id AND events.seq = 1), 0);
