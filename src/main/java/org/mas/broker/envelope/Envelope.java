package org.mas.broker.envelope;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.mas.broker.MasNames;

/**
 * A validated, normalized envelope (id, timestamp, priority, requires_ack and ttl filled in). Routing rules read it
 * from the exchange property {@code envelope}, e.g. {@code ${exchangeProperty.envelope.payload[task_type]}}.
 */
public final class Envelope {

    private final ObjectNode node;
    private final String json;
    private final String fingerprint;
    private Map<String, Object> payload;

    Envelope(ObjectNode node, String json, String fingerprint) {
        this.node = node;
        this.json = json;
        this.fingerprint = fingerprint;
    }

    /**
     * A digest of the envelope as it was sent (before normalization; field order and number spelling do not count):
     * two envelopes with the same id and the same fingerprint are the same message.
     */
    public String getFingerprint() {
        return fingerprint;
    }

    public String getId() {
        return node.get("id").asText();
    }

    public String getFromAgent() {
        return node.get("from_agent").asText();
    }

    /** The recipient's id, "broadcast", or null when the envelope names {@code to_agents} or {@code to_capability}. */
    public String getToAgent() {
        JsonNode to = node.get("to_agent");
        return to == null ? null : to.asText();
    }

    /** The recipients named by {@code to_agents}, or an empty list. */
    public List<String> getToAgents() {
        JsonNode to = node.get("to_agents");
        if (to == null) {
            return List.of();
        }
        return java.util.stream.StreamSupport.stream(to.spliterator(), false).map(JsonNode::asText).toList();
    }

    /** The capability named by {@code to_capability}, or null. */
    public String getToCapability() {
        JsonNode to = node.get("to_capability");
        return to == null ? null : to.asText();
    }

    public boolean isBroadcast() {
        return MasNames.BROADCAST.equals(getToAgent());
    }

    public String getMessageType() {
        return node.get("message_type").asText();
    }

    /** The payload as a map, for routing rules in the Simple language. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> getPayload() {
        if (payload == null) {
            payload = PAYLOAD_READER.convertValue(node.get("payload"), Map.class);
        }
        return payload;
    }

    /** 1..10. */
    public int getPriority() {
        return node.get("priority").asInt();
    }

    public boolean isRequiresAck() {
        return node.get("requires_ack").asBoolean();
    }

    /** Seconds; 0 means the message never expires. */
    public long getTtl() {
        return node.get("ttl").asLong();
    }

    public String getTimestamp() {
        return node.get("timestamp").asText();
    }

    public String getCorrelationId() {
        JsonNode value = node.get("correlation_id");
        return value == null || value.isNull() ? null : value.asText();
    }

    public String getConversationId() {
        JsonNode value = node.get("conversation_id");
        return value == null || value.isNull() ? null : value.asText();
    }

    /** A top-level field as text (e.g. "classification"), or null. */
    public String field(String name) {
        JsonNode value = node.get(name);
        return value == null || value.isNull() ? null : value.asText();
    }

    /** The normalized envelope as JSON: what goes on the queues. */
    public String toJson() {
        return json;
    }

    @Override
    public String toString() {
        return "Envelope[id=" + getId() + ", from=" + getFromAgent() + ", type=" + getMessageType() + "]";
    }

    private static final ObjectMapper PAYLOAD_READER = new ObjectMapper();
}
