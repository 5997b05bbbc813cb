package org.mas.broker.delivery.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.sql.DataSource;

import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.delivery.ledger.LedgerEvent.Kind;

/**
 * The delivery ledger: records every step of every message, asynchronously and in batches, on one writer thread, so
 * that the message path never waits for the database (unless the database falls more than {@link #CAPACITY} steps
 * behind, when recording blocks rather than drops). Reads flush what is pending first, so the API never reports less
 * than what happened, and never anything that did not.
 */
public class DeliveryLedger extends ServiceSupport {

    public static final int CAPACITY = 100_000;
    private static final int BATCH = 1_000;
    private static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final Logger LOG = LoggerFactory.getLogger(DeliveryLedger.class);

    private final LedgerDatabases databases;
    private final BlockingQueue<LedgerEvent> pending = new LinkedBlockingQueue<>(CAPACITY);
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private final Object writtenMonitor = new Object();
    private final java.util.concurrent.atomic.AtomicInteger flushRequests = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean running;
    private Thread writer;

    private volatile boolean recording;
    private final org.mas.broker.RateLimitedLog writeAheadFailures = new org.mas.broker.RateLimitedLog(LOG,
            "{} more write-aheads failed in the last minute (not logged one by one)");
    private final java.nio.file.Path setAsideFile;
    private final AtomicLong setAside = new AtomicLong();
    private String lastRefusal; // the writer thread's own
    /** Set while the writer finds the database unreachable: look-ups on the message path do not wait for it then. */
    private volatile boolean unreachable;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * @param recording false only for benchmarks: steps then reach the listener but not the database
     * @param setAsideFile where records the database refuses are kept (JSON lines), or null to only log them
     */
    public DeliveryLedger(LedgerDatabases databases, boolean recording, java.nio.file.Path setAsideFile) {
        this.databases = databases;
        this.recording = recording;
        this.setAsideFile = setAsideFile;
    }

    // ---- recording

    /** Benchmarks only: turns database recording off and on at run time. */
    public void setRecording(boolean recording) {
        this.recording = recording;
    }

    /** Records a step: the ledger's subscription to {@link DeliverySteps}. */
    public void submit(LedgerEvent event) {
        if (recording) {
            stepSubmitted(event);
            try {
                pending.put(event);
                submitted.incrementAndGet();
            } catch (InterruptedException e) {
                stepsWritten(List.of(event));
                Thread.currentThread().interrupt();
                LOG.error("Interrupted while recording {} of {}: the record is lost", event.kind(), event.messageId());
            }
        }
    }

    /** Waits until everything recorded so far is in the database (at most {@code timeout}). */
    public boolean flush(Duration timeout) {
        long target = submitted.get();
        if (written.get() >= target) {
            return true;
        }
        flushRequests.incrementAndGet();
        try {
            return awaitWritten(target, timeout);
        } finally {
            flushRequests.decrementAndGet();
        }
    }

    private boolean awaitWritten(long target, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (writtenMonitor) {
            while (written.get() < target) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(writtenMonitor, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return true;
    }

    public int backlog() {
        return pending.size();
    }

    @Override
    protected void doStart() {
        running = true;
        writer = new Thread(this::writeLoop, "delivery-ledger-writer");
        writer.setDaemon(true);
        writer.start();
    }

    /** An orderly shutdown writes everything still pending before it returns. */
    @Override
    protected void doStop() throws InterruptedException {
        running = false;
        if (writer != null) {
            writer.join(TimeUnit.SECONDS.toMillis(30));
            if (writer.isAlive()) {
                LOG.error("The ledger writer did not finish in 30 s: {} records not written", pending.size());
            }
        }
        databases.close();
    }

    private void writeLoop() {
        List<LedgerEvent> batch = new ArrayList<>(BATCH);
        while (running || !pending.isEmpty()) {
            try {
                LedgerEvent first = pending.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                // under light load, wait a little for more: fewer, larger database transactions, which keeps the
                // database's disk and CPU work off the broker's journal; a reader's flush does not wait for it
                long lingerUntil = System.nanoTime() + LINGER_NANOS;
                while (batch.size() < BATCH && running && flushRequests.get() == 0) {
                    long left = lingerUntil - System.nanoTime();
                    LedgerEvent next = left > 0 ? pending.poll(left, TimeUnit.NANOSECONDS) : null;
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                    pending.drainTo(batch, BATCH - batch.size());
                }
                pending.drainTo(batch, BATCH - batch.size());
                writeWithRetry(batch);
                stepsWritten(batch);
                written.addAndGet(batch.size());
                synchronized (writtenMonitor) {
                    writtenMonitor.notifyAll();
                }
                batch.clear();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Writes a batch, waiting out a database that cannot be reached (retried with back-off: nothing is lost while it
     * is down). A batch the database refuses while it is up is written again record by record, and the records it
     * still refuses are set aside ({@link #setAside}): one bad record never stops the writer.
     */
    private void writeWithRetry(List<LedgerEvent> batch) throws InterruptedException {
        if (tryWrite(batch)) {
            return;
        }
        for (LedgerEvent event : batch) {
            if (!tryWrite(List.of(event))) {
                setAside(event);
            }
        }
    }

    /** @return true once written; false if the database, reachable, refuses it (or the ledger is stopping) */
    private boolean tryWrite(List<LedgerEvent> events) throws InterruptedException {
        long backoff = 100;
        while (true) {
            try {
                write(events);
                unreachable = false;
                return true;
            } catch (SQLException | RuntimeException e) {
                lastRefusal = e.toString();
                if (!running) {
                    LOG.error("Ledger write failed during shutdown, {} records not written: {}", events.size(), e.toString());
                    return true; // nothing to set aside: the records are gone with the process
                }
                if (!isUnreachable(e)) {
                    return false;
                }
                unreachable = true;
                LOG.warn("Ledger database unavailable, retrying in {} ms: {}", backoff, e.toString());
                Thread.sleep(backoff); // the writer's own back-off; the message path does not wait for it
                backoff = Math.min(backoff * 2, 10_000);
            }
        }
    }

    /**
     * A failure that says nothing about the records: the connection, the pool or the server (SQL state classes 08
     * connection, 40 rollback, 53 resources, 57 operator intervention, 58 system), or a database that does not answer a
     * validity check. Anything else (22 data, 23 integrity, ...) is the records' own fault.
     */
    private boolean isUnreachable(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.sql.SQLTransientException || t instanceof java.sql.SQLRecoverableException
                    || t instanceof java.sql.SQLNonTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null
                    && List.of("08", "40", "53", "57", "58").contains(sql.getSQLState().substring(0, Math.min(2, sql.getSQLState().length())))) {
                return true;
            }
        }
        for (DataSource dataSource : List.of(databases.messages(), databases.queues(), databases.delivery())) {
            try (Connection c = dataSource.getConnection()) {
                if (!c.isValid(5)) {
                    return true;
                }
            } catch (SQLException down) {
                return true;
            }
        }
        return false;
    }

    /**
     * A record the database refuses: logged with its message id, counted ({@code mas_ledger_set_aside_total}) and
     * appended as one JSON line to {@code <data_dir>/db/set-aside.jsonl}, where an operator finds it. The message itself
     * is not affected: the ledger only records what happened to it.
     */
    private void setAside(LedgerEvent event) {
        setAside.incrementAndGet();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("set_aside_at", Instant.now().toString());
        line.put("error", lastRefusal);
        line.put("step", event.kind().label);
        line.put("message_id", event.messageId());
        line.put("recipient", event.recipient());
        line.put("attempt", event.attempt());
        line.put("at", event.at() == null ? null : event.at().toString());
        line.put("detail", event.detail());
        line.put("actor", event.actor());
        line.put("envelope", event.message() == null ? null : event.message().envelope());
        String json;
        try {
            json = JSON.writeValueAsString(line);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            json = "{\"step\":\"" + event.kind().label + "\"}";
        }
        LOG.error("Ledger record set aside (the database refuses it): {} of message {}: {}", event.kind().label,
                quoted(event.messageId()), lastRefusal);
        if (setAsideFile == null) {
            return;
        }
        try {
            java.nio.file.Files.createDirectories(setAsideFile.getParent());
            java.nio.file.Files.writeString(setAsideFile, json + "\n", java.nio.charset.StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (java.io.IOException e) {
            LOG.error("Cannot keep the set-aside record in {}: {}; the record was: {}", setAsideFile, e.toString(), json);
        }
    }

    /** Records the database refused since start-up (see {@link #setAside}). */
    public long setAsideCount() {
        return setAside.get();
    }

    /** A value as a JSON string literal, abbreviated: whatever an id holds (NUL, line breaks, ...) stays on one line. */
    private static String quoted(String value) {
        try {
            String json = JSON.writeValueAsString(value);
            return json.length() > 300 ? json.substring(0, 300) + "..." : json;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return "?";
        }
    }

    private void write(List<LedgerEvent> batch) throws SQLException {
        List<LedgerEvent> accepted = new ArrayList<>();
        List<LedgerEvent> seen = new ArrayList<>();
        List<LedgerEvent> steps = new ArrayList<>();
        for (LedgerEvent event : batch) {
            switch (event.kind()) {
                case ACCEPTED -> {
                    accepted.add(event);
                    steps.add(event);
                }
                case AGENT_SEEN -> seen.add(event);
                default -> steps.add(event);
            }
        }
        if (!accepted.isEmpty()) {
            inTransaction(databases.messages(), c -> writeMessages(c, accepted));
        }
        if (!seen.isEmpty()) {
            inTransaction(databases.queues(), c -> writeAgentsSeen(c, seen));
        }
        if (!steps.isEmpty()) {
            inTransaction(databases.delivery(), c -> writeSteps(c, steps));
        }
    }

    private interface Work {
        void run(Connection connection) throws SQLException;
    }

    private static void inTransaction(DataSource dataSource, Work work) throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            connection.setAutoCommit(false);
            try {
                work.run(connection);
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            }
        }
    }

    /**
     * One row per message id. An id seen again is only written when the idempotency check let it through: a replay
     * (no fingerprint: the original's is kept), or a new message under the id of an earlier attempt that was refused
     * (429, 503) after its acceptance was recorded: the row then describes the message that was really accepted.
     */
    private static void writeMessages(Connection c, List<LedgerEvent> events) throws SQLException {
        // accepted_at is the generation of the copies' resends and dead letters (their duplicate ids): a replay (no
        // fingerprint) or another message under the id starts a new one; the same message routed again after its
        // transaction rolled back keeps it, so what the deadlines sent meanwhile is not sent twice
        try (PreparedStatement update = c.prepareStatement("UPDATE messages SET from_agent = ?, message_type = ?, "
                + "priority = ?, requires_ack = ?, correlation_id = ?, ingress = ?, conversation_id = ?, accepted_at = CASE WHEN "
                + "CAST(? AS VARCHAR(64)) IS NULL OR fingerprint IS NULL OR fingerprint <> CAST(? AS VARCHAR(64)) THEN ? "
                + "ELSE accepted_at END, envelope = ?, fingerprint = COALESCE(?, fingerprint) WHERE id = ?");
             PreparedStatement insert = c.prepareStatement("INSERT INTO messages (from_agent, message_type, priority, "
                + "requires_ack, correlation_id, ingress, conversation_id, accepted_at, envelope, fingerprint, id) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (LedgerEvent e : events) {
                LedgerEvent.AcceptedMessage m = e.message();
                for (PreparedStatement statement : List.of(update, insert)) {
                    statement.setString(1, m.fromAgent());
                    statement.setString(2, m.messageType());
                    statement.setInt(3, m.priority());
                    statement.setBoolean(4, m.requiresAck());
                    statement.setString(5, m.correlationId());
                    statement.setString(6, m.ingress());
                    statement.setString(7, m.conversationId());
                }
                update.setString(8, m.fingerprint());
                update.setString(9, m.fingerprint());
                update.setTimestamp(10, Timestamp.from(e.at()));
                update.setString(11, m.envelope());
                update.setString(12, m.fingerprint());
                update.setString(13, e.messageId());
                if (update.executeUpdate() == 0) {
                    insert.setTimestamp(8, Timestamp.from(e.at()));
                    insert.setString(9, m.envelope());
                    insert.setString(10, m.fingerprint());
                    insert.setString(11, e.messageId());
                    insert.executeUpdate();
                }
            }
        }
    }

    private static void writeAgentsSeen(Connection c, List<LedgerEvent> events) throws SQLException {
        Map<String, Instant> latest = new LinkedHashMap<>();
        events.forEach(e -> latest.merge(e.recipient(), e.at(), (a, b) -> a.isAfter(b) ? a : b));
        try (PreparedStatement update = c.prepareStatement("UPDATE agent_activity SET last_seen = ? WHERE agent_id = ? AND last_seen < ?");
             PreparedStatement insert = c.prepareStatement("INSERT INTO agent_activity (agent_id, last_seen) SELECT ?, ? "
                     + "WHERE NOT EXISTS (SELECT 1 FROM agent_activity WHERE agent_id = ?)")) {
            for (Map.Entry<String, Instant> entry : latest.entrySet()) {
                Timestamp at = Timestamp.from(entry.getValue());
                update.setTimestamp(1, at);
                update.setString(2, entry.getKey());
                update.setTimestamp(3, at);
                update.executeUpdate();
                insert.setString(1, entry.getKey());
                insert.setTimestamp(2, at);
                insert.setString(3, entry.getKey());
                insert.executeUpdate();
            }
        }
    }

    /** Writes steps into the timeline and the per-copy state; also used by {@link CopyClaims} in its own transaction. */
    static void writeSteps(Connection c, List<LedgerEvent> events) throws SQLException {
        try (PreparedStatement event = c.prepareStatement("INSERT INTO delivery_events (message_id, recipient, event, "
                + "attempt, at, detail, actor) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            for (LedgerEvent e : events) {
                event.setString(1, e.messageId());
                event.setString(2, e.recipient());
                event.setString(3, e.kind().label);
                if (e.attempt() > 0) {
                    event.setInt(4, e.attempt());
                } else {
                    event.setNull(4, java.sql.Types.INTEGER);
                }
                event.setTimestamp(5, Timestamp.from(e.at()));
                event.setString(6, LedgerEvent.truncate(e.detail()));
                event.setString(7, e.actor());
                event.addBatch();
            }
            writeStates(c, events, false);
            event.executeBatch();
        }
    }

    /**
     * The per-copy state each step leaves behind (deliveries), without its timeline entry; attempts as the step says (0:
     * not known, kept). Steps come in the order they were taken, but for one: a first copy that must be acknowledged
     * was written ahead ({@link #writeAhead}) when it was routed, and by the time its step reaches the writer another
     * router may have acknowledged it. That step only creates the row if the write ahead did not; {@code ahead} (the
     * write ahead itself) always sets it: a copy routed again after its first transaction rolled back starts again at
     * send 1. No timestamps are compared, so the routers' clocks need not agree for this.
     */
    private static void writeStates(Connection c, List<LedgerEvent> events, boolean ahead) throws SQLException {
        try (PreparedStatement update = c.prepareStatement("UPDATE deliveries SET status = ?, attempts = CASE WHEN ? > 0 "
                     + "THEN ? ELSE attempts END, requires_ack = ?, ack_deadline = ?, updated_at = ?, detail = ? "
                     + "WHERE message_id = ? AND recipient = ?");
             PreparedStatement insert = c.prepareStatement("INSERT INTO deliveries (message_id, recipient, status, attempts, "
                     + "requires_ack, ack_deadline, updated_at, detail) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                     + "(SELECT 1 FROM deliveries WHERE message_id = ? AND recipient = ?)")) {
            for (LedgerEvent e : events) {
                String status = deliveryStatus(e.kind());
                if (status == null || e.recipient() == null) {
                    continue;
                }
                Timestamp deadline = e.ackDeadline() == null ? null : Timestamp.from(e.ackDeadline());
                Timestamp at = Timestamp.from(e.at());
                boolean writtenAhead = !ahead && writesAhead(e);
                if (!writtenAhead) {
                    update.setString(1, status);
                    update.setInt(2, Math.max(e.attempt(), 0));
                    update.setInt(3, Math.max(e.attempt(), 0));
                    update.setBoolean(4, e.requiresAck());
                    update.setTimestamp(5, deadline);
                    update.setTimestamp(6, at);
                    update.setString(7, LedgerEvent.truncate(e.detail()));
                    update.setString(8, e.messageId());
                    update.setString(9, e.recipient());
                    if (update.executeUpdate() > 0) {
                        continue;
                    }
                }
                insert.setString(1, e.messageId());
                insert.setString(2, e.recipient());
                insert.setString(3, status);
                insert.setInt(4, Math.max(e.attempt(), 1));
                insert.setBoolean(5, e.requiresAck());
                insert.setTimestamp(6, deadline);
                insert.setTimestamp(7, at);
                insert.setString(8, LedgerEvent.truncate(e.detail()));
                insert.setString(9, e.messageId());
                insert.setString(10, e.recipient());
                insert.executeUpdate();
            }
        }
    }

    /** The steps {@link LedgerRecorder} writes ahead: a first copy of a message that must be acknowledged. */
    static boolean writesAhead(LedgerEvent step) {
        return step.kind() == Kind.QUEUED && step.requiresAck() && step.attempt() == 1 && step.message() != null;
    }

    /**
     * Writes, now and synchronously, what the acknowledgment deadlines need of copies that must be acknowledged: the
     * message (its envelope) and each copy's state, not yet its timeline entry. Called before the copies' transaction
     * commits (or before the REST answer), so a router that dies before its writer wrote the steps leaves them followed:
     * the steps themselves are written as usual afterwards, and their state again, to the same values. A copy whose
     * transaction then rolls back is routed again and overwrites the same row. If the database cannot be written the
     * copies are routed anyway (the writer keeps the steps, as for every other copy): false is returned.
     */
    public boolean writeAhead(List<LedgerEvent> events) {
        if (!recording || events.isEmpty()) {
            return true;
        }
        Map<String, LedgerEvent> byMessage = new LinkedHashMap<>(); // one row per message, whatever its recipients
        events.stream().filter(e -> e.kind() == Kind.ACCEPTED).forEach(e -> byMessage.put(e.messageId(), e));
        List<LedgerEvent> accepted = List.copyOf(byMessage.values());
        try {
            if (!accepted.isEmpty()) {
                inTransaction(databases.messages(), c -> writeMessages(c, accepted));
            }
            inTransaction(databases.delivery(), c -> writeStates(c, events, true));
            return true;
        } catch (SQLException | RuntimeException e) {
            writeAheadFailures.warn("Copies awaiting an acknowledgment were queued without their record written ahead "
                    + "(the ledger's writer still has them): {}", e.toString());
            return false;
        }
    }

    /** The per-recipient status a step leaves behind, or null for steps that only go into the timeline. */
    private static String deliveryStatus(Kind kind) {
        return switch (kind) {
            case QUEUED, RETRYING, ACKED, FAILED, REJECTED, EXPIRED, DEAD_LETTERED -> kind.label;
            default -> null;
        };
    }

    // ---- reading

    /** Everything the ledger knows of one message, or empty if it never saw it. */
    public Optional<MessageStatus> status(String messageId) throws SQLException {
        flush(Duration.ofSeconds(5));
        MessageStatus.Message message = null;
        try (Connection c = databases.messages().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT from_agent, message_type, priority, requires_ack, "
                     + "correlation_id, conversation_id, ingress, accepted_at FROM messages WHERE id = ?")) {
            q.setString(1, messageId);
            try (ResultSet r = q.executeQuery()) {
                if (r.next()) {
                    message = new MessageStatus.Message(r.getString(1), r.getString(2), r.getInt(3), r.getBoolean(4),
                            r.getString(5), r.getString(6), r.getString(7), r.getTimestamp(8).toInstant().toString());
                }
            }
        }
        List<MessageStatus.Recipient> recipients = new ArrayList<>();
        List<MessageStatus.Step> timeline = new ArrayList<>();
        try (Connection c = databases.delivery().getConnection()) {
            try (PreparedStatement q = c.prepareStatement("SELECT recipient, status, attempts, requires_ack, ack_deadline, "
                    + "updated_at, detail FROM deliveries WHERE message_id = ? ORDER BY recipient")) {
                q.setString(1, messageId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        recipients.add(recipient(r, 1));
                    }
                }
            }
            // in time: with several routers, the order in which steps were written is not the order they were taken in
            try (PreparedStatement q = c.prepareStatement("SELECT at, event, recipient, attempt, detail, actor "
                    + "FROM delivery_events WHERE message_id = ? ORDER BY at, seq")) {
                q.setString(1, messageId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        int attempt = r.getInt(4);
                        timeline.add(new MessageStatus.Step(r.getTimestamp(1).toInstant().toString(), r.getString(2), r.getString(3),
                                r.wasNull() ? null : attempt, r.getString(5), r.getString(6)));
                    }
                }
            }
        }
        if (message == null && timeline.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new MessageStatus(messageId, message, recipients, timeline));
    }

    /** One row of deliveries, read from {@code first}: recipient, status, attempts, requires_ack, ack_deadline, updated_at, detail. */
    private static MessageStatus.Recipient recipient(ResultSet r, int first) throws SQLException {
        Timestamp deadline = r.getTimestamp(first + 4);
        return new MessageStatus.Recipient(r.getString(first), r.getString(first + 1), r.getInt(first + 2), r.getBoolean(first + 3),
                deadline == null ? null : deadline.toInstant().toString(), r.getTimestamp(first + 5).toInstant().toString(),
                r.getString(first + 6));
    }

    /** The envelope fields messages can be searched by (each a column of messages, indexed with accepted_at). */
    public enum SearchBy {
        CORRELATION_ID("correlation_id"), CONVERSATION_ID("conversation_id");

        public final String column;

        SearchBy(String column) {
            this.column = column;
        }
    }

    /** Messages found by {@link #search}, newest first; {@code more} when the limit left some out. */
    public record Found(List<MessageSummary> messages, boolean more) {
    }

    /** The messages whose {@code by} is {@code value}, newest first, at most {@code limit}, each with its recipients. */
    public Found search(SearchBy by, String value, int limit) throws SQLException {
        flush(Duration.ofSeconds(5));
        Map<String, MessageSummary> found = new LinkedHashMap<>();
        boolean more = false;
        try (Connection c = databases.messages().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT id, from_agent, message_type, correlation_id, conversation_id, "
                     + "accepted_at FROM messages WHERE " + by.column + " = ? ORDER BY accepted_at DESC, id DESC "
                     + "FETCH FIRST " + (limit + 1) + " ROWS ONLY")) {
            q.setString(1, value);
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    if (found.size() == limit) {
                        more = true;
                        break;
                    }
                    found.put(r.getString(1), new MessageSummary(r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                            r.getString(5), r.getTimestamp(6).toInstant().toString(), new ArrayList<>()));
                }
            }
        }
        if (!found.isEmpty()) {
            try (Connection c = databases.delivery().getConnection();
                 PreparedStatement q = c.prepareStatement("SELECT message_id, recipient, status, attempts, requires_ack, "
                         + "ack_deadline, updated_at, detail FROM deliveries WHERE message_id IN ("
                         + String.join(", ", java.util.Collections.nCopies(found.size(), "?")) + ") ORDER BY message_id, recipient")) {
                int i = 1;
                for (String id : found.keySet()) {
                    q.setString(i++, id);
                }
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        found.get(r.getString(1)).recipients().add(recipient(r, 2));
                    }
                }
            }
        }
        return new Found(List.copyOf(found.values()), more);
    }

    /**
     * Removes what is older than {@code cutoff}, {@code batch} rows per statement so that no transaction grows large.
     * A copy still waiting for an acknowledgment is kept.
     * @return rows removed
     */
    public int removeOlderThan(Instant cutoff, int batch) throws SQLException {
        Timestamp before = Timestamp.from(cutoff);
        int removed = 0;
        removed += deleteInBatches(databases.delivery(), "DELETE FROM delivery_events WHERE seq IN (SELECT seq FROM "
                + "delivery_events WHERE at < ? FETCH FIRST " + batch + " ROWS ONLY)", before, batch);
        removed += deleteInBatches(databases.delivery(), "DELETE FROM deliveries WHERE (message_id, recipient) IN "
                + "(SELECT message_id, recipient FROM deliveries WHERE updated_at < ? AND NOT (requires_ack = TRUE AND "
                + "status IN ('queued', 'retrying', 'failed')) FETCH FIRST " + batch + " ROWS ONLY)", before, batch);
        removed += deleteInBatches(databases.messages(), "DELETE FROM messages WHERE id IN (SELECT id FROM messages "
                + "WHERE accepted_at < ? FETCH FIRST " + batch + " ROWS ONLY)", before, batch);
        removed += deleteInBatches(databases.messages(), "DELETE FROM message_claims WHERE id IN (SELECT id FROM "
                + "message_claims WHERE claimed_at < ? FETCH FIRST " + batch + " ROWS ONLY)", before, batch);
        return removed;
    }

    private static int deleteInBatches(DataSource dataSource, String sql, Timestamp before, int batch) throws SQLException {
        int total = 0;
        try (Connection c = dataSource.getConnection(); PreparedStatement delete = c.prepareStatement(sql)) {
            int deleted;
            do {
                delete.setTimestamp(1, before);
                deleted = delete.executeUpdate();
                total += deleted;
            } while (deleted == batch);
        }
        return total;
    }

    /** The copies awaiting an acknowledgment as rows of this ledger (shared by several routers). */
    public CopyClaims copyClaims() {
        return new CopyClaims(databases.delivery());
    }

    /** A copy that waits for its acknowledgment (or for its next send), as stored. */
    public record AwaitingAck(String messageId, String agent, String status, int attempts, Instant deadline) {
    }

    /** Every copy that still waits for an acknowledgment or a resend: what the tracker resumes after a restart. */
    public List<AwaitingAck> awaitingAcks() throws SQLException {
        List<AwaitingAck> awaiting = new ArrayList<>();
        try (Connection c = databases.delivery().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT message_id, recipient, status, attempts, ack_deadline "
                     + "FROM deliveries WHERE requires_ack = TRUE AND status IN ('queued', 'retrying', 'failed')")) {
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    Timestamp deadline = r.getTimestamp(5);
                    awaiting.add(new AwaitingAck(r.getString(1), r.getString(2), r.getString(3), r.getInt(4),
                            deadline == null ? Instant.now() : deadline.toInstant()));
                }
            }
        }
        return awaiting;
    }

    /** When one agent was last seen (sent a message or an acknowledgment), from queues_db; empty if never. */
    public Optional<Instant> agentLastSeen(String agent) throws SQLException {
        try (Connection c = databases.queues().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT last_seen FROM agent_activity WHERE agent_id = ?")) {
            q.setString(1, agent);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(r.getTimestamp(1).toInstant()) : Optional.empty();
            }
        }
    }

    /** A router's claim on a message id (cluster.enabled): the content it routes and the router. */
    public record Claim(String fingerprint, String owner) {
    }

    /**
     * Claims {@code id} for {@code owner}, on the database's clock; empty if the claim is now this owner's, else the
     * claim another attempt holds (which may be this owner's own, from an attempt of unknown outcome).
     */
    public Optional<Claim> claim(String id, String fingerprint, String owner) throws SQLException {
        try (Connection c = databases.messages().getConnection()) {
            for (int tries = 0; tries < 3; tries++) {
                // no error (logged by the server) when the id is claimed: only two inserts at the same moment collide
                try (PreparedStatement insert = c.prepareStatement("INSERT INTO message_claims (id, fingerprint, owner, "
                        + "claimed_at) SELECT ?, ?, ?, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM message_claims "
                        + "WHERE id = ?)")) {
                    insert.setString(1, id);
                    insert.setString(2, fingerprint);
                    insert.setString(3, owner);
                    insert.setString(4, id);
                    if (insert.executeUpdate() == 1) {
                        return Optional.empty();
                    }
                } catch (SQLException e) {
                    if (!"23505".equals(e.getSQLState())) { // unique violation, in PostgreSQL and H2 alike
                        throw e;
                    }
                }
                try (PreparedStatement q = c.prepareStatement("SELECT fingerprint, owner FROM message_claims WHERE id = ?")) {
                    q.setString(1, id);
                    try (ResultSet r = q.executeQuery()) {
                        if (r.next()) {
                            return Optional.of(new Claim(r.getString(1), r.getString(2)));
                        }
                    }
                } // released meanwhile: claim again
            }
            throw new SQLException("the claim on message " + id + " changed hands three times in a row");
        }
    }

    /** This router is alive (several routers): its heartbeat row, on the database's clock. */
    public void heartbeat(String owner) throws SQLException {
        try (Connection c = databases.messages().getConnection();
             PreparedStatement update = c.prepareStatement("UPDATE router_heartbeats SET seen_at = CURRENT_TIMESTAMP "
                     + "WHERE owner = ?")) {
            update.setString(1, owner);
            if (update.executeUpdate() == 0) {
                try (PreparedStatement insert = c.prepareStatement("INSERT INTO router_heartbeats (owner, seen_at) "
                        + "VALUES (?, CURRENT_TIMESTAMP)")) {
                    insert.setString(1, owner);
                    insert.executeUpdate();
                }
            }
        }
    }

    /** Whether {@code owner} beat within {@code within}, on the database's clock (false if it never did). */
    public boolean alive(String owner, Duration within) throws SQLException {
        try (Connection c = databases.messages().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT seen_at, CURRENT_TIMESTAMP FROM router_heartbeats "
                     + "WHERE owner = ?")) {
            q.setString(1, owner);
            try (ResultSet r = q.executeQuery()) {
                return r.next() && Duration.between(r.getTimestamp(1).toInstant(), r.getTimestamp(2).toInstant())
                        .compareTo(within) < 0;
            }
        }
    }

    /** Ends {@code owner}'s claim on {@code id} (its attempt was refused): another attempt may claim it. */
    public void releaseClaim(String id, String owner) throws SQLException {
        try (Connection c = databases.messages().getConnection();
             PreparedStatement delete = c.prepareStatement("DELETE FROM message_claims WHERE id = ? AND owner = ?")) {
            delete.setString(1, id);
            delete.setString(2, owner);
            delete.executeUpdate();
        }
    }

    /** Moves the claim on {@code id} from {@code from} (whose attempt never finished) to {@code to}; false if it moved. */
    public boolean takeOverClaim(String id, String from, String to) throws SQLException {
        try (Connection c = databases.messages().getConnection();
             PreparedStatement update = c.prepareStatement("UPDATE message_claims SET owner = ?, claimed_at = "
                     + "CURRENT_TIMESTAMP WHERE id = ? AND owner = ?")) {
            update.setString(1, to);
            update.setString(2, id);
            update.setString(3, from);
            return update.executeUpdate() == 1;
        }
    }

    /** What the ledger knows of an id for the idempotency check: the fingerprint it was accepted with (null if none). */
    public record Accepted(String fingerprint, Instant at) {
    }

    /**
     * The acceptance of a message id that was delivered or parked (its accepted step, or a finished copy), from the
     * database; empty for an id never accepted, or whose every attempt was refused. Steps not yet written are not
     * seen: the caller keeps its own record of recent ids.
     */
    public Optional<Accepted> accepted(String messageId) throws SQLException {
        if (unreachable) {
            throw new SQLException("the ledger's database is unreachable (the writer is waiting for it)", "08000");
        }
        if (!recording) {
            return Optional.empty();
        }
        Accepted accepted = null;
        try (Connection c = databases.messages().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT fingerprint, accepted_at FROM messages WHERE id = ?")) {
            q.setString(1, messageId);
            try (ResultSet r = q.executeQuery()) {
                if (r.next()) {
                    accepted = new Accepted(r.getString(1), r.getTimestamp(2).toInstant());
                }
            }
        }
        if (accepted == null) {
            return Optional.empty();
        }
        try (Connection c = databases.delivery().getConnection();
             // its "accepted" step, written only once the message is the broker's for good (not for an attempt whose
            // transaction rolled back, whatever the deadlines did with its copies written ahead); or a copy that is
            // finished (acknowledged, rejected, parked, expired): its message was delivered, even if a router died
            // before writing that step
            PreparedStatement q = c.prepareStatement("SELECT 1 FROM delivery_events WHERE message_id = ? "
                     + "AND event = 'accepted' UNION ALL SELECT 1 FROM deliveries WHERE message_id = ? AND status IN "
                     + "('acked', 'rejected', 'dead_lettered', 'expired')")) {
            q.setString(1, messageId);
            q.setString(2, messageId);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(accepted) : Optional.empty();
            }
        }
    }

    // ---- steps not yet written, per message: tells "known, not yet in the database" from "unknown" without a flush
    // (the acknowledgment path). At most one entry per step in the queue, in the batch being written, or being
    // submitted: bounded by CAPACITY + BATCH + the submitting threads.

    private final java.util.concurrent.ConcurrentHashMap<String, Integer> pendingSteps =
            new java.util.concurrent.ConcurrentHashMap<>();

    private void stepSubmitted(LedgerEvent event) {
        if (event.messageId() != null) {
            pendingSteps.merge(event.messageId(), 1, Integer::sum);
        }
    }

    private void stepsWritten(List<LedgerEvent> events) {
        for (LedgerEvent event : events) {
            if (event.messageId() != null) {
                pendingSteps.computeIfPresent(event.messageId(), (id, n) -> n == 1 ? null : n - 1);
            }
        }
    }

    /** True while a step of this message was recorded but is not yet in the database. */
    public boolean isPending(String messageId) {
        return pendingSteps.containsKey(messageId);
    }

    /** Waits (at most {@code timeout}) until every step recorded so far for this message is in the database. */
    public boolean awaitWritten(String messageId, Duration timeout) {
        if (!isPending(messageId)) {
            return true;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        flushRequests.incrementAndGet(); // the writer does not linger for more
        try {
            synchronized (writtenMonitor) {
                while (isPending(messageId)) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(writtenMonitor, left);
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            flushRequests.decrementAndGet();
        }
    }

    /** What the database holds of an accepted message, read without a flush (see {@link #isPending}). */
    public record StoredMessage(String envelope, Instant acceptedAt) {
    }

    public Optional<StoredMessage> storedMessage(String messageId) throws SQLException {
        try (Connection c = databases.messages().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT envelope, accepted_at FROM messages WHERE id = ?")) {
            q.setString(1, messageId);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(new StoredMessage(r.getString(1), r.getTimestamp(2).toInstant())) : Optional.empty();
            }
        }
    }

    /** The recipients of a message's copies (agent ids, "capability:&lt;name&gt;"), read without a flush. */
    public List<String> storedRecipients(String messageId) throws SQLException {
        List<String> recipients = new ArrayList<>();
        try (Connection c = databases.delivery().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT recipient FROM deliveries WHERE message_id = ?")) {
            q.setString(1, messageId);
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    recipients.add(r.getString(1));
                }
            }
        }
        return recipients;
    }

    /** The stored status of one recipient's copy, read without a flush (see {@link #isPending}). */
    public Optional<String> storedDeliveryStatus(String messageId, String agent) throws SQLException {
        try (Connection c = databases.delivery().getConnection();
             PreparedStatement q = c.prepareStatement("SELECT status FROM deliveries WHERE message_id = ? AND recipient = ?")) {
            q.setString(1, messageId);
            q.setString(2, agent);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(r.getString(1)) : Optional.empty();
            }
        }
    }
}
