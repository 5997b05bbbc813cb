package org.mas.broker.delivery.ledger;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/** What GET /api/messages/{id} answers: the message, its state per recipient, and its timeline (ISO-8601 UTC times). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MessageStatus(String id, Message message, List<Recipient> recipients, List<Step> timeline) {

    public record Message(@JsonProperty("from_agent") String fromAgent, @JsonProperty("message_type") String messageType,
                          int priority, @JsonProperty("requires_ack") boolean requiresAck,
                          @JsonProperty("correlation_id") String correlationId,
                          @JsonProperty("conversation_id") String conversationId, String ingress,
                          @JsonProperty("accepted_at") String acceptedAt) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Recipient(String agent, String status, int attempts, @JsonProperty("requires_ack") boolean requiresAck,
                            @JsonProperty("ack_deadline") String ackDeadline, @JsonProperty("updated_at") String updatedAt,
                            String detail) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Step(String at, String event, String agent, Integer attempt, String detail, String actor) {
    }
}
