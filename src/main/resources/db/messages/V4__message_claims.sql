-- messages_db: the routers' claims on message ids (cluster.enabled). One router at a time routes a given id; another
-- that gets the same id (a client sending again after a failover, or to two routers at once) waits for that outcome,
-- so the message is neither delivered twice nor accepted with two contents. Removed with the ledger's retention.
CREATE TABLE message_claims (
    id          VARCHAR(128) NOT NULL PRIMARY KEY,
    fingerprint VARCHAR(64)  NOT NULL,
    owner       VARCHAR(128) NOT NULL,
    claimed_at  TIMESTAMP    NOT NULL
);
CREATE INDEX message_claims_claimed_at ON message_claims (claimed_at);
