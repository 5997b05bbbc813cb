package org.mas.broker.delivery;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.QueueBrowser;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.DefaultExchange;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.DeliverySteps;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.envelope.InvalidEnvelopeException;
import org.mas.broker.rest.RestResponses;

/**
 * Dead letters as an operator sees them: GET /api/dlq, POST /api/dlq/{id}/replay, DELETE /api/dlq/{id}, where {id}
 * is the message id (every dead letter of that message). Replays and deletions are recorded in the ledger with the
 * name of the API key that asked. Bean name {@code deadLetterApi}.
 */
public class DeadLetterApi {

    public static final int MAX_PAGE_SIZE = 500;
    /** The deepest a page may reach: each call browses at most this many dead letters (filters narrow further). */
    static final int MAX_DEPTH = 10_000;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final ConnectionFactory connectionFactory;
    private final org.mas.broker.queues.QueueAdmin queues;
    private final DeliverySteps steps;
    private final RestResponses responses;
    private final CamelContext context;
    private ProducerTemplate producer;

    public DeadLetterApi(CamelContext context, ConnectionFactory connectionFactory, org.mas.broker.queues.QueueAdmin queues,
                         DeliverySteps steps, RestResponses responses) {
        this.context = context;
        this.queues = queues;
        this.connectionFactory = connectionFactory;
        this.steps = steps;
        this.responses = responses;
    }

    /** GET /api/dlq?agent=&reason=&since=&until=&page=0&size=50 (since/until ISO-8601; reason: a substring). */
    public void list(Exchange exchange) throws Exception {
        org.apache.camel.Message in = exchange.getIn();
        List<String> problems = new ArrayList<>();
        List<String> conditions = new ArrayList<>();
        String agent = in.getHeader("agent", String.class);
        if (agent != null) {
            if (MasNames.isAgentId(agent)) {
                // an agent, or a capability as its recipient "capability:<name>"
                conditions.add(MasNames.HEADER_TARGET + " = '" + MasNames.recipientQueue(agent) + "'");
            } else {
                problems.add("agent: not an agent id");
            }
        }
        String reason = in.getHeader("reason", String.class);
        if (reason != null) {
            conditions.add(MasNames.HEADER_ERROR + " LIKE '%" + likeLiteral(reason) + "%' ESCAPE '!'");
        }
        Long since = instant(in.getHeader("since", String.class), "since", problems);
        Long until = instant(in.getHeader("until", String.class), "until", problems);

        int page = number(in.getHeader("page", String.class), 0, "page", problems);
        int size = number(in.getHeader("size", String.class), 50, "size", problems);
        if (size < 1 || size > MAX_PAGE_SIZE) {
            problems.add("size: between 1 and " + MAX_PAGE_SIZE);
        } else if ((long) (page + 1) * size > MAX_DEPTH) {
            problems.add("page: at most " + MAX_DEPTH + " dead letters deep; narrow the list with agent, reason, since or until");
        }
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid query", problems);
            return;
        }
        // JMS selectors and the broker's own filters name the timestamp differently; the rest is the same syntax
        java.util.function.Function<String, String> filter = timestamp -> {
            List<String> all = new ArrayList<>(conditions);
            if (since != null) {
                all.add(timestamp + " >= " + since);
            }
            if (until != null) {
                all.add(timestamp + " < " + until);
            }
            return all.isEmpty() ? null : String.join(" AND ", all);
        };
        List<Map<String, Object>> items = new ArrayList<>();
        try (Connection connection = connectionFactory.createConnection()) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            connection.start();
            QueueBrowser browser = session.createBrowser(session.createQueue(MasNames.DLQ),
                    filter.apply("JMSTimestamp"));
            int skip = page * size;
            for (Enumeration<?> e = browser.getEnumeration(); e.hasMoreElements() && items.size() < size; ) {
                Message message = (Message) e.nextElement();
                if (skip > 0) {
                    skip--;
                } else {
                    items.add(describe(message));
                }
            }
        }
        // counted by the broker: the total never makes this call browse the whole queue
        long matched = queues.count(MasNames.DLQ, filter.apply("AMQTimestamp"));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("page", page);
        body.put("size", size);
        body.put("total", matched);
        body.put("items", items);
        responses.json(exchange, 200, body);
    }

    /** POST /api/dlq/{id}/replay, optionally with an edited envelope as the body: validated, then routed again. */
    public void replay(Exchange exchange) throws Exception {
        String id = exchange.getIn().getHeader("id", String.class);
        String edited = exchange.getIn().getBody(String.class);
        String actor = exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class);
        try (Connection connection = connectionFactory.createConnection()) {
            Session session = connection.createSession(true, Session.SESSION_TRANSACTED);
            connection.start();
            List<Message> deadLetters = take(session, id);
            if (deadLetters.isEmpty()) {
                session.rollback();
                RestResponses.error(exchange, 404, "no dead letter", List.of("mas.dlq holds no message with id '" + id + "'"));
                return;
            }
            String envelope = edited != null && !edited.isBlank() ? edited : ((TextMessage) deadLetters.get(0)).getText();
            Exchange replay = new DefaultExchange(context);
            replay.getIn().setBody(envelope);
            replay.getIn().setHeader(MasNames.HEADER_INGRESS, "replay");
            replay.setProperty(MasNames.PROPERTY_SENDER, org.mas.broker.queues.JmsConnections.TRANSACTED_COMPONENT);
            replay.setProperty(MasNames.PROPERTY_REPLAY, java.util.UUID.randomUUID().toString());
            boolean isEdited = edited != null && !edited.isBlank();
            java.util.Set<String> targets = isEdited ? null : deadLetteredAgents(deadLetters);
            if (targets != null) {
                // as it was: only to the recipients whose copies were parked, not again to those that had theirs
                replay.setProperty(MasNames.PROPERTY_REPLAY_TARGETS, targets);
            }
            producer().send("direct:accept", replay);
            InvalidEnvelopeException invalid = replay.getProperty(Exchange.EXCEPTION_CAUGHT, InvalidEnvelopeException.class);
            if (invalid != null) {
                session.rollback(); // the dead letter stays
                RestResponses.error(exchange, 400, "replayed envelope is still invalid: " + invalid.getMessage(), invalid.getDetails());
                return;
            }
            if (replay.getException() != null) {
                session.rollback();
                throw replay.getException();
            }
            session.commit();
            String replayedId = replay.getIn().getHeader(MasNames.HEADER_ID, String.class);
            steps.publish(new LedgerEvent(LedgerEvent.Kind.REPLAYED, id, null, 0, Instant.now(),
                    "replayed as " + replayedId + (edited != null && !edited.isBlank() ? " (edited)" : ""), actor, false, null, null));
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", replayedId);
            body.put("status", "replayed");
            body.put("dead_letters_removed", deadLetters.size());
            responses.json(exchange, 202, body);
        }
    }

    /** DELETE /api/dlq/{id}: drops every dead letter of that message. */
    public void delete(Exchange exchange) throws Exception {
        String id = exchange.getIn().getHeader("id", String.class);
        String actor = exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class);
        int removed;
        try (Connection connection = connectionFactory.createConnection()) {
            Session session = connection.createSession(true, Session.SESSION_TRANSACTED);
            connection.start();
            removed = take(session, id).size();
            session.commit();
        }
        if (removed == 0) {
            RestResponses.error(exchange, 404, "no dead letter", List.of("mas.dlq holds no message with id '" + id + "'"));
            return;
        }
        steps.publish(new LedgerEvent(LedgerEvent.Kind.DELETED, id, null, 0, Instant.now(),
                removed + " dead letter(s) dropped", actor, false, null, null));
        responses.json(exchange, 200, Map.of("id", id, "deleted", removed));
    }

    /** The recipients whose copies were dead-lettered, or null if one failed before its recipients were known. */
    private static java.util.Set<String> deadLetteredAgents(List<Message> deadLetters) throws Exception {
        java.util.Set<String> recipients = new java.util.LinkedHashSet<>();
        for (Message message : deadLetters) {
            String recipient = MasNames.queueRecipient(message.getStringProperty(MasNames.HEADER_TARGET));
            if (recipient == null) {
                return null;
            }
            recipients.add(recipient);
        }
        return recipients;
    }

    private static List<Message> take(Session session, String id) throws Exception {
        List<Message> taken = new ArrayList<>();
        try (MessageConsumer consumer = session.createConsumer(session.createQueue(MasNames.DLQ),
                MasNames.HEADER_ID + " = '" + id.replace("'", "''") + "'")) {
            Message message = consumer.receive(2_000);
            while (message != null) {
                taken.add(message);
                message = consumer.receiveNoWait();
            }
        }
        return taken;
    }

    private static Map<String, Object> describe(Message message) throws Exception {
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("id", message.getStringProperty(MasNames.HEADER_ID));
        String target = message.getStringProperty(MasNames.HEADER_TARGET);
        item.put("target", target);
        item.put("agent", MasNames.queueRecipient(target)); // the recipient: an agent id, or "capability:<name>"
        item.put("reason", message.getStringProperty(MasNames.HEADER_ERROR));
        item.put("attempts", message.propertyExists(MasNames.HEADER_ATTEMPTS) ? message.getIntProperty(MasNames.HEADER_ATTEMPTS) : null);
        item.put("ingress", message.getStringProperty(MasNames.HEADER_INGRESS));
        item.put("dead_lettered_at", Instant.ofEpochMilli(message.getJMSTimestamp()).toString());
        String text = message instanceof TextMessage t ? t.getText() : null;
        JsonNode envelope = null;
        try {
            envelope = text == null ? null : MAPPER.readTree(text);
        } catch (Exception notJson) {
            item.put("body", text);
        }
        item.put("envelope", envelope);
        return item;
    }

    private synchronized ProducerTemplate producer() {
        if (producer == null) {
            producer = context.createProducerTemplate();
        }
        return producer;
    }

    private static String likeLiteral(String text) {
        return text.replace("!", "!!").replace("%", "!%").replace("_", "!_").replace("'", "''");
    }

    private static Long instant(String value, String name, List<String> problems) {
        if (value == null) {
            return null;
        }
        try {
            return Instant.parse(value).toEpochMilli();
        } catch (DateTimeParseException e) {
            problems.add(name + ": an ISO-8601 instant such as 2026-11-27T10:00:00Z");
            return null;
        }
    }

    private static int number(String value, int fallback, String name, List<String> problems) {
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value);
            if (n < 0) {
                problems.add(name + ": must be >= 0");
            }
            return n;
        } catch (NumberFormatException e) {
            problems.add(name + ": not a number");
            return fallback;
        }
    }
}
