-- queues_db: a version per agent row, raised by every write. Writes are conditional on the version they read, so two
-- routers sharing this database never overwrite each other's change unseen; the sum of the versions (rows are never
-- deleted) is the cheap check by which a process sees that another one changed the registry.
ALTER TABLE agents ADD COLUMN row_version BIGINT DEFAULT 1 NOT NULL;
