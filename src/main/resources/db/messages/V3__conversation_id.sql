-- messages_db: GET /api/messages?correlation_id= / ?conversation_id= finds messages by either, newest first. The
-- envelope's conversation_id gets its own column (null for messages accepted before it existed: they are found by
-- correlation_id only); each search reads one index range, already in accepted_at order.
ALTER TABLE messages ADD COLUMN conversation_id VARCHAR(256);
CREATE INDEX messages_correlation_id ON messages (correlation_id, accepted_at);
CREATE INDEX messages_conversation_id ON messages (conversation_id, accepted_at);
