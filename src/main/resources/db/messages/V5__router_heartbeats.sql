-- messages_db: each router's last sign of life (cluster.enabled), on the database's clock: a claim on a message id
-- (message_claims) held by a router that stopped beating is taken over at once instead of being waited for.
CREATE TABLE router_heartbeats (
    owner   VARCHAR(128) NOT NULL PRIMARY KEY,
    seen_at TIMESTAMP    NOT NULL
);
