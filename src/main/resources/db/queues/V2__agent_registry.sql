-- queues_db: the agent registry, the source of truth for who an agent is (its secret, as a bcrypt hash), what it may
-- do (roles) and what it offers (capabilities). capabilities and roles are JSON arrays of strings.
-- origin: 'config' (declared in message-broker.yaml, read-only through the API) or 'api' (POST /api/agents).
CREATE TABLE agents (
    id            VARCHAR(256)   NOT NULL PRIMARY KEY,
    secret_hash   VARCHAR(60),
    capabilities  VARCHAR(65536) NOT NULL,
    roles         VARCHAR(1024)  NOT NULL,
    endpoint      VARCHAR(2048),
    enabled       BOOLEAN        NOT NULL,
    origin        VARCHAR(16)    NOT NULL,
    created_at    TIMESTAMP      NOT NULL,
    updated_at    TIMESTAMP      NOT NULL
);
