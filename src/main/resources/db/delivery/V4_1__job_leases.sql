-- delivery_db: one row per singleton job (queue clean-up, ledger clean-up, alert evaluation), so that of several
-- routers sharing this database one runs a job at a time (org.mas.broker.cluster.JobLeases). Times are the database's
-- own clock, so routers' clocks need not agree. Numbered 4.1 so that it sorts apart from other version-4 migrations.
CREATE TABLE job_leases (
    job          VARCHAR(100) PRIMARY KEY,
    owner        VARCHAR(100),
    started_at   TIMESTAMP WITH TIME ZONE,
    lease_until  TIMESTAMP WITH TIME ZONE
);
