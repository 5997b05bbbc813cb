package org.mas.broker.envelope;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

import org.mas.broker.MasNames;

/**
 * The one definition of the properties a copy of a message carries on a queue (contract section 1): mas_id,
 * mas_from, mas_type, mas_requires_ack, mas_correlation_id, mas_ingress, JMS priority (priority - 1), persistent
 * delivery and the expiration; then, per recipient, mas_target and the duplicate id. Every sender builds its copies
 * from here: the route and the batch's session for first deliveries, the acknowledgment tracker for resends (and,
 * through them, dead letters).
 */
public final class CopyProperties {

    private CopyProperties() {
    }

    /** @param expiresAt epoch millis, 0 = never; @param ingress null when not known (a copy resumed after a restart) */
    public static Map<String, Object> of(String id, String fromAgent, String messageType, boolean requiresAck,
                                         String correlationId, String ingress, int priority, long expiresAt) {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put(MasNames.HEADER_ID, id);
        properties.put(MasNames.HEADER_FROM, fromAgent);
        properties.put(MasNames.HEADER_TYPE, messageType);
        properties.put(MasNames.HEADER_REQUIRES_ACK, requiresAck);
        if (correlationId != null) {
            properties.put(MasNames.HEADER_CORRELATION_ID, correlationId);
        }
        if (ingress != null) {
            properties.put(MasNames.HEADER_INGRESS, ingress);
        }
        properties.put("JMSPriority", priority - 1);
        properties.put("JMSDeliveryMode", 2); // persistent
        properties.put("JMSExpiration", expiresAt);
        return properties;
    }

    /** What one recipient's copy adds: its queue as mas_target, and its Artemis duplicate id. */
    public static void forRecipient(BiConsumer<String, Object> properties, String recipient, String duplicateId) {
        properties.accept(MasNames.HEADER_TARGET, MasNames.recipientQueue(recipient));
        properties.accept(MasNames.HEADER_DUPLICATE_ID, duplicateId);
    }

    /**
     * Artemis's duplicate id of one recipient's first copy: the same on every path that sends it (in a batch's
     * transaction, through the route, after a redelivery), so that a copy sent twice is dropped; a replay (its token)
     * sends copies of its own.
     */
    public static String duplicateId(String messageId, String agentId, String replay) {
        return messageId + ":" + agentId + (replay == null ? "" : ":replay:" + replay);
    }

    /** The duplicate id of the acknowledgment tracker's n-th send, in the generation (acceptance) of the message. */
    public static String resendDuplicateId(String messageId, String agentId, int send, long generation) {
        return messageId + ":" + agentId + ":" + send + ":" + generation;
    }
}
