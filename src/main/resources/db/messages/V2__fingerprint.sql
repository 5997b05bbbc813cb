-- The fingerprint of each accepted envelope as it was sent: the same id with another fingerprint is refused
-- (idempotency). Null for messages accepted before this column existed.
ALTER TABLE messages ADD COLUMN fingerprint VARCHAR(64);
