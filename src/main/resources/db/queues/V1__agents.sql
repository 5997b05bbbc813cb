-- queues_db: when each agent was last seen (sending a message or an acknowledgment), for queue clean-up.
CREATE TABLE agent_activity (
    agent_id   VARCHAR(256) NOT NULL PRIMARY KEY,
    last_seen  TIMESTAMP    NOT NULL
);
