-- delivery_db: an event's actor is an API key's name or an agent id (acknowledgments), and agent ids have up to 256
-- characters: the column was 128.
ALTER TABLE delivery_events ALTER COLUMN actor SET DATA TYPE VARCHAR(300);
