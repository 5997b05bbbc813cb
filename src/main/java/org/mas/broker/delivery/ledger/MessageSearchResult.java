package org.mas.broker.delivery.ledger;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * What GET /api/messages answers: the search (one of correlation_id, conversation_id), its limit, the messages found
 * (newest first) and whether the limit left some out.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MessageSearchResult(@JsonProperty("correlation_id") String correlationId,
                                  @JsonProperty("conversation_id") String conversationId,
                                  int limit, boolean more, List<MessageSummary> messages) {
}
