package org.mas.broker.delivery.ledger;

import java.time.Instant;

/**
 * One step in the life of a message, as the ledger records it. {@code recipient} is an agent id, or null for a step
 * that concerns the whole message (accepted, dead-lettered before any recipient was chosen).
 */
public record LedgerEvent(
        Kind kind,
        String messageId,
        String recipient,
        int attempt,
        Instant at,
        String detail,
        String actor,
        boolean requiresAck,
        Instant ackDeadline,
        AcceptedMessage message) {

    public enum Kind {
        ACCEPTED("accepted"), QUEUED("queued"), RETRYING("retrying"), ACKED("acked"), FAILED("failed"),
        REJECTED("rejected"), EXPIRED("expired"), DEAD_LETTERED("dead_lettered"), REPLAYED("replayed"),
        DELETED("deleted"), AGENT_SEEN("agent_seen");

        public final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /**
     * What messages_db keeps of an accepted message (its fingerprint null for a replay, which keeps the original's;
     * its correlation and conversation ids, which GET /api/messages searches by;
     * and, not stored, when its copies expire: 0 = never; and when it
     * was accepted, for the accepted -> acked latency: null when not known).
     */
    public record AcceptedMessage(String fromAgent, String messageType, int priority, boolean requiresAck,
                           String correlationId, String ingress, String envelope, long expiresAt, Instant acceptedAt,
                           String fingerprint, String conversationId) {

        /** Without a fingerprint: what is read back, or sent again, is not a new acceptance. */
        public AcceptedMessage(String fromAgent, String messageType, int priority, boolean requiresAck,
                               String correlationId, String ingress, String envelope, long expiresAt, Instant acceptedAt) {
            this(fromAgent, messageType, priority, requiresAck, correlationId, ingress, envelope, expiresAt, acceptedAt, null, null);
        }
    }

    /** At most 2,000 characters, without NUL (which PostgreSQL refuses in text). */
    static String truncate(String text) {
        if (text == null) {
            return null;
        }
        String clean = text.indexOf('\u0000') < 0 ? text : text.replace("\u0000", "");
        return clean.length() <= 2000 ? clean : clean.substring(0, 2000);
    }
}
