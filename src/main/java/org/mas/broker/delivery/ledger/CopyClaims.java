package org.mas.broker.delivery.ledger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import javax.sql.DataSource;

/**
 * The copies that wait for an acknowledgment, as rows of the shared ledger ({@code deliveries}): several routers
 * change them, each in a transaction that locks the rows it reads ({@code SELECT ... FOR UPDATE}), records the steps it
 * took and commits. Due rows are claimed with {@code SKIP LOCKED}: a row another router is handling is left to it.
 * PostgreSQL skips locked rows before applying the row limit; H2 (one router only) may return fewer rows.
 */
public final class CopyClaims {

    /** One copy's state: status queued (waiting for its ack), retrying / failed (waiting to be sent again), or final. */
    public record Row(String messageId, String recipient, String status, int attempts, boolean requiresAck) {

        /** Still followed: a final copy (acked, dead_lettered, expired, rejected) changes no more. */
        public boolean open() {
            return status.equals("queued") || status.equals("retrying") || status.equals("failed");
        }
    }

    public interface Work<T> {
        T run(Claim claim) throws Exception;
    }

    /** The rows one transaction locked, and the steps it took: written together at commit. */
    public static final class Claim {
        private final Connection connection;
        private final List<LedgerEvent> steps = new ArrayList<>();

        private Claim(Connection connection) {
            this.connection = connection;
        }

        /** Copies whose deadline (ack or resend) is past, oldest first, locked; rows locked elsewhere are skipped. */
        public List<Row> due(Instant now, int limit) throws SQLException {
            try (PreparedStatement q = connection.prepareStatement("SELECT message_id, recipient, status, attempts, "
                    + "requires_ack FROM deliveries WHERE requires_ack = TRUE AND status IN ('queued', 'retrying', 'failed') "
                    + "AND ack_deadline <= ? ORDER BY ack_deadline FETCH FIRST " + limit + " ROWS ONLY FOR UPDATE SKIP LOCKED")) {
                q.setTimestamp(1, Timestamp.from(now));
                return rows(q);
            }
        }

        /** One copy, locked (waits for a transaction that holds it); empty if it is not recorded. */
        public Optional<Row> lock(String messageId, String recipient) throws SQLException {
            try (PreparedStatement q = connection.prepareStatement("SELECT message_id, recipient, status, attempts, "
                    + "requires_ack FROM deliveries WHERE message_id = ? AND recipient = ? FOR UPDATE")) {
                q.setString(1, messageId);
                q.setString(2, recipient);
                List<Row> rows = rows(q);
                return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
            }
        }

        /** Every copy of one message, locked in recipient order. */
        public List<Row> lockAll(String messageId) throws SQLException {
            try (PreparedStatement q = connection.prepareStatement("SELECT message_id, recipient, status, attempts, "
                    + "requires_ack FROM deliveries WHERE message_id = ? ORDER BY recipient FOR UPDATE")) {
                q.setString(1, messageId);
                return rows(q);
            }
        }

        /** A step taken on a locked row: written into the timeline and the row's state at commit. */
        public void record(LedgerEvent step) {
            steps.add(step);
        }

        public List<LedgerEvent> steps() {
            return steps;
        }

        private static List<Row> rows(PreparedStatement q) throws SQLException {
            List<Row> rows = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    rows.add(new Row(r.getString(1), r.getString(2), r.getString(3), r.getInt(4), r.getBoolean(5)));
                }
            }
            return rows;
        }
    }

    private final DataSource delivery;

    CopyClaims(DataSource delivery) {
        this.delivery = delivery;
    }

    /**
     * Runs {@code work} in one transaction and commits what it recorded; an exception rolls everything back (the
     * rows are claimed again, and a send repeated with the same duplicate id is dropped by Artemis).
     */
    public <T> Committed<T> inTransaction(Work<T> work) throws Exception {
        try (Connection connection = delivery.getConnection()) {
            connection.setAutoCommit(false);
            try {
                Claim claim = new Claim(connection);
                T result = work.run(claim);
                DeliveryLedger.writeSteps(connection, claim.steps);
                connection.commit();
                return new Committed<>(result, List.copyOf(claim.steps));
            } catch (Exception e) {
                connection.rollback();
                throw e;
            }
        }
    }

    /** What a transaction returned and the steps it wrote. */
    public record Committed<T>(T result, List<LedgerEvent> steps) {
    }

    /** Copies still waiting for an acknowledgment or a resend. */
    public int awaiting() throws SQLException {
        try (Connection c = delivery.getConnection();
             PreparedStatement q = c.prepareStatement("SELECT COUNT(*) FROM deliveries WHERE requires_ack = TRUE "
                     + "AND status IN ('queued', 'retrying', 'failed')");
             ResultSet r = q.executeQuery()) {
            r.next();
            return r.getInt(1);
        }
    }
}
