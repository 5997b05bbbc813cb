-- messages_db: every accepted message, once, with its normalized envelope (what acknowledgment redelivery and
-- dead-letter replay send again).
CREATE TABLE messages (
    id             VARCHAR(128)  NOT NULL PRIMARY KEY,
    from_agent     VARCHAR(256)  NOT NULL,
    message_type   VARCHAR(32)   NOT NULL,
    priority       INTEGER       NOT NULL,
    requires_ack   BOOLEAN       NOT NULL,
    correlation_id VARCHAR(256),
    ingress        VARCHAR(16)   NOT NULL,
    accepted_at    TIMESTAMP     NOT NULL,
    envelope       TEXT          NOT NULL
);
CREATE INDEX messages_accepted_at ON messages (accepted_at);
