package org.mas.broker.delivery.ledger;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.DeliveryLedger.SearchBy;
import org.mas.broker.rest.RestResponses;

/**
 * GET /api/messages/{id}: the delivery status and timeline of one message; GET /api/messages?correlation_id= or
 * ?conversation_id=: the messages that carry it. Bean name {@code messagesApi}.
 */
public class MessagesApi {

    public static final int DEFAULT_LIMIT = 50;
    public static final int MAX_LIMIT = 500;
    private static final Set<String> SEARCH_PARAMETERS = Set.of("correlation_id", "conversation_id", "limit");
    private static final java.util.regex.Pattern REFERENCE = java.util.regex.Pattern.compile(MasNames.REFERENCE_REGEX);

    private final DeliveryLedger ledger;
    private final RestResponses responses;

    public MessagesApi(DeliveryLedger ledger, RestResponses responses) {
        this.ledger = ledger;
        this.responses = responses;
    }

    public void status(Exchange exchange) throws SQLException {
        String id = exchange.getIn().getHeader("id", String.class);
        // an id no message can have (NUL, too long...) is unknown, without asking the database
        Optional<MessageStatus> status = id == null || !MasNames.isMessageId(id) ? Optional.empty() : ledger.status(id);
        if (status.isPresent()) {
            responses.json(exchange, 200, status.get());
        } else {
            RestResponses.error(exchange, 404, "unknown message", List.of(MasNames.isMessageId(id)
                    ? "no message with id '" + id + "'" : "no message has that id: ids match " + MasNames.MESSAGE_ID_REGEX));
        }
    }

    /**
     * Exactly one of correlation_id and conversation_id (an id: {@link MasNames#REFERENCE_REGEX}), and limit 1..500
     * (default 50); any other query parameter, or one given twice, is a 400 too. 200 with no messages when none match.
     */
    public void search(Exchange exchange) throws SQLException {
        List<String> problems = new ArrayList<>();
        // read from the query string itself: the HTTP server also makes headers of the request's own headers
        Map<String, String> query = new LinkedHashMap<>();
        for (String[] parameter : queryParameters(exchange.getIn().getHeader(Exchange.HTTP_QUERY, String.class))) {
            if (!SEARCH_PARAMETERS.contains(parameter[0])) {
                problems.add(abbreviate(parameter[0]) + ": not a parameter of this call (correlation_id, conversation_id, limit)");
            } else if (query.put(parameter[0], parameter[1]) != null) {
                problems.add(parameter[0] + ": given more than once");
            }
        }
        String correlationId = query.get("correlation_id");
        String conversationId = query.get("conversation_id");
        if ((correlationId == null) == (conversationId == null)) {
            problems.add("give exactly one of correlation_id and conversation_id");
        }
        for (String name : List.of("correlation_id", "conversation_id")) {
            if (query.containsKey(name) && !REFERENCE.matcher(query.get(name)).matches()) {
                problems.add(name + ": 1 to 256 of the characters A-Z a-z 0-9 : _ . -");
            }
        }
        int limit = DEFAULT_LIMIT;
        if (query.containsKey("limit")) {
            try {
                limit = Integer.parseInt(query.get("limit"));
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                problems.add("limit: a whole number between 1 and " + MAX_LIMIT);
            }
        }
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid query", problems.stream().distinct().toList());
            return;
        }
        DeliveryLedger.Found found = correlationId != null
                ? ledger.search(SearchBy.CORRELATION_ID, correlationId, limit)
                : ledger.search(SearchBy.CONVERSATION_ID, conversationId, limit);
        responses.json(exchange, 200, new MessageSearchResult(correlationId, conversationId, limit, found.more(), found.messages()));
    }

    /** The query string's parameters, decoded, in order, each {name, value} (value "" when it has none). */
    private static List<String[]> queryParameters(String query) {
        List<String[]> parameters = new ArrayList<>();
        if (query != null && !query.isEmpty()) {
            for (String parameter : query.split("&")) {
                if (!parameter.isEmpty()) {
                    String[] nameAndValue = parameter.split("=", 2);
                    parameters.add(new String[] {decode(nameAndValue[0]), nameAndValue.length == 2 ? decode(nameAndValue[1]) : ""});
                }
            }
        }
        return parameters;
    }

    /** URL-decoded; a malformed escape is kept as it is (and then fails the checks). */
    private static String decode(String text) {
        try {
            return URLDecoder.decode(text, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return text;
        }
    }

    private static String abbreviate(String text) {
        return text.length() > 64 ? text.substring(0, 64) + "..." : text;
    }
}
