package org.mas.broker.delivery.ledger;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/** One message found by GET /api/messages?correlation_id= or ?conversation_id=: what the ledger knows of it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MessageSummary(String id, @JsonProperty("from_agent") String fromAgent,
                             @JsonProperty("message_type") String messageType,
                             @JsonProperty("correlation_id") String correlationId,
                             @JsonProperty("conversation_id") String conversationId,
                             @JsonProperty("accepted_at") String acceptedAt,
                             List<MessageStatus.Recipient> recipients) {
}
