package org.mas.broker.delivery;

import java.util.HashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.jms.JmsConstants;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.envelope.CopyProperties;

/**
 * The sends of an acknowledgment deadline, one implementation for {@link AckTracker} and {@link SharedAckDeadlines}:
 * a copy sent again (send n) and a copy dead-lettered, each with a duplicate id that the same step repeated (after a
 * crash, or by another router) keeps, so Artemis drops the repeat; and the back-off before send n + 1.
 */
final class CopySends {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String SEND_URI = "jmsNonTx:queue:mas.agent?exchangePattern=InOnly";
    private static final String DLQ_URI = "jmsNonTx:queue:" + MasNames.DLQ + "?exchangePattern=InOnly";

    private final int retryCount;
    private final long initialDelayMs;
    private final double multiplier;
    private final long maxDelayMs;

    CopySends(int retryCount, long initialDelayMs, double multiplier, long maxDelayMs) {
        this.retryCount = retryCount;
        this.initialDelayMs = initialDelayMs;
        this.multiplier = multiplier;
        this.maxDelayMs = maxDelayMs;
    }

    /** After this many sends without success the copy is dead-lettered instead of sent again. */
    boolean exhausted(int sends) {
        return sends > retryCount;
    }

    /** The wait after the failure of send {@code sends} before the next one. */
    long delayMs(int sends) {
        return (long) Math.min(maxDelayMs, initialDelayMs * Math.pow(multiplier, Math.max(0, sends - 1)));
    }

    /** The message as the ledger stores it, in the shape the deadline code follows. */
    static LedgerEvent.AcceptedMessage accepted(DeliveryLedger.StoredMessage stored) throws java.io.IOException {
        String envelope = stored.envelope();
        JsonNode node = MAPPER.readTree(envelope);
        long ttl = node.path("ttl").asLong(0);
        // ttl counts from the broker's receipt (as at ingress), not from the sender's timestamp
        long expiresAt = ttl == 0 ? 0 : stored.acceptedAt().toEpochMilli() + ttl * 1000;
        return new LedgerEvent.AcceptedMessage(node.path("from_agent").asText(), node.path("message_type").asText(),
                node.path("priority").asInt(5), true,
                node.hasNonNull("correlation_id") ? node.get("correlation_id").asText() : null, null, envelope, expiresAt,
                stored.acceptedAt(), null, node.hasNonNull("conversation_id") ? node.get("conversation_id").asText() : null);
    }

    /** The JMS properties every copy of this message carries. */
    static Map<String, Object> headers(String messageId, LedgerEvent.AcceptedMessage m) {
        return new HashMap<>(CopyProperties.of(messageId, m.fromAgent(), m.messageType(), true, m.correlationId(),
                m.ingress(), m.priority(), m.expiresAt()));
    }

    /** When the message was (last) accepted: a replay starts a new generation of sends and dead letters. */
    static long generation(LedgerEvent.AcceptedMessage m) {
        return m.acceptedAt() == null ? 0 : m.acceptedAt().toEpochMilli();
    }

    /** Send number {@code send} of the copy for {@code recipient} (an agent, or "capability:&lt;name&gt;"). */
    static void resend(ProducerTemplate producer, String messageId, String recipient, String envelope,
                       Map<String, Object> copyHeaders, int send, long generation) {
        Map<String, Object> headers = new HashMap<>(copyHeaders);
        headers.put(JmsConstants.JMS_DESTINATION_NAME, MasNames.recipientQueue(recipient));
        CopyProperties.forRecipient(headers::put, recipient,
                CopyProperties.resendDuplicateId(messageId, recipient, send, generation));
        headers.put(MasNames.HEADER_ATTEMPTS, send);
        producer.sendBodyAndHeaders(SEND_URI, envelope, headers);
    }

    /** The copy for {@code recipient} to mas.dlq, after {@code sends} sends. */
    static void deadLetter(ProducerTemplate producer, String messageId, String recipient, String envelope,
                           Map<String, Object> copyHeaders, String reason, int sends, long generation) {
        Map<String, Object> headers = new HashMap<>(copyHeaders);
        String queue = MasNames.recipientQueue(recipient);
        DeadLetters.deadLetter(headers::put, reason, sends, queue,
                DeadLetters.duplicateId(messageId, queue, "ack:" + generation + ":" + sends));
        producer.sendBodyAndHeaders(DLQ_URI, envelope, headers);
    }
}
