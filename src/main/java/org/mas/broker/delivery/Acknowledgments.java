package org.mas.broker.delivery;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.RateLimitedLog;
import org.mas.broker.identity.AuthenticatedSender;
import org.mas.broker.rest.RestResponses;

/**
 * Acknowledgments {@code {"id","agent","status":"processed|failed|rejected","detail"}} from mas.acks (any protocol)
 * or POST /api/messages/{id}/ack. Bean name {@code acks}.
 */
public class Acknowledgments {

    private static final Logger LOG = LoggerFactory.getLogger(Acknowledgments.class);
    private static final Set<String> STATUSES = Set.of("processed", "failed", "rejected");

    private final AckDeadlines tracker;
    private final RestResponses responses;
    private final AtomicLong refused = new AtomicLong();
    private final RateLimitedLog refusals = new RateLimitedLog(LOG,
            "{} more acknowledgments were refused in the last minute (not logged one by one)");

    /** @param trustUnauthenticated security.allow_anonymous: an ack from a sender the broker did not authenticate counts */
    private final boolean trustUnauthenticated;

    public Acknowledgments(AckDeadlines tracker, RestResponses responses, boolean trustUnauthenticated) {
        this.tracker = tracker;
        this.responses = responses;
        this.trustUnauthenticated = trustUnauthenticated;
    }

    /** mas.acks: a bad or unmatched acknowledgment is logged and counted, never retried, never a crash. */
    public void fromQueue(Exchange exchange) throws Exception {
        Object message = exchange.getIn().getBody();
        String body;
        if (message instanceof jakarta.jms.TextMessage text) {
            body = text.getText();
        } else if (message instanceof jakarta.jms.BytesMessage bytes && bytes.getBodyLength() <= 65_536) {
            byte[] data = new byte[(int) bytes.getBodyLength()];
            bytes.readBytes(data);
            body = new String(data, java.nio.charset.StandardCharsets.UTF_8);
        } else {
            refuse("unsupported JMS message type " + (message == null ? "null" : message.getClass().getSimpleName())
                    + ": an acknowledgment is a JSON TextMessage");
            return;
        }
        JsonNode ack;
        try {
            ack = org.mas.broker.rest.JsonBodies.read(body);
        } catch (Exception e) {
            refuse("not JSON: " + abbreviate(body));
            return;
        }
        List<String> problems = validate(ack, true);
        if (!problems.isEmpty()) {
            refuse(String.join("; ", problems) + " in " + abbreviate(body));
            return;
        }
        String id = ack.get("id").asText();
        String agent = ack.get("agent").asText();
        AuthenticatedSender.Sender sender = AuthenticatedSender.of((jakarta.jms.Message) message);
        if (!sender.unchecked(trustUnauthenticated) && !agent.equals(sender.agent())) {
            refuse("acknowledgment of " + id + " as agent '" + agent + "' from " + (sender.agent() == null
                    ? "a sender the broker did not authenticate" : "the authenticated agent '" + sender.agent() + "'")
                    + ": an agent acknowledges only as itself");
            return;
        }
        // one for a copy not recorded yet is held, not waited for: its outcome comes later, on another thread
        AckDeadlines.Result result = tracker.acknowledge(id, agent, ack.get("status").asText(), text(ack, "detail"),
                late -> report(id, agent, late));
        report(id, agent, result);
    }

    private void report(String id, String agent, AckDeadlines.Result result) {
        switch (result.outcome()) {
            case UNKNOWN_MESSAGE -> refuse("acknowledgment for unknown message " + id + " from " + agent);
            case NOT_A_RECIPIENT -> refuse("acknowledgment of " + id + " from " + agent + ", which is not one of its recipients");
            case HELD -> LOG.debug("Acknowledgment of {} by {} held: its copy is not recorded yet", id, agent);
            default -> LOG.debug("Acknowledgment of {} by {}: {}", id, agent, result.status());
        }
    }

    /**
     * POST /api/messages/{id}/ack: 200, 400 bad body, 403 an agent the caller's key is not bound to, 404 unknown
     * message, 409 not a recipient of it.
     */
    public void fromRest(Exchange exchange) throws Exception {
        String id = exchange.getIn().getHeader("id", String.class);
        if (!MasNames.isMessageId(id)) {
            RestResponses.error(exchange, 404, "unknown message", List.of("no message has that id: ids match " + MasNames.MESSAGE_ID_REGEX));
            return;
        }
        JsonNode ack = org.mas.broker.rest.JsonBodies.readRequest(exchange);
        if (ack == null) {
            return;
        }
        List<String> problems = validate(ack, false);
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid acknowledgment", problems);
            return;
        }
        String agent = ack.get("agent").asText();
        java.util.Collection<?> allowed = exchange.getProperty(MasNames.PROPERTY_API_KEY_AGENTS, java.util.Collection.class);
        if (allowed != null && !allowed.contains(agent)) {
            RestResponses.error(exchange, 403, "API key '" + exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class)
                    + "' may not acknowledge as '" + agent + "'", List.of("$.agent: this key may act as " + allowed));
            return;
        }
        AckDeadlines.Result result = tracker.acknowledge(id, agent, ack.get("status").asText(), text(ack, "detail"));
        switch (result.outcome()) {
            case UNKNOWN_MESSAGE -> RestResponses.error(exchange, 404, "unknown message", List.of("no message with id '" + id + "'"));
            case NOT_A_RECIPIENT -> RestResponses.error(exchange, 409, "not a recipient",
                    List.of("agent '" + agent + "' is not a recipient of message '" + id + "'"));
            default -> {
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("id", id);
                body.put("agent", agent);
                body.put("status", result.status());
                responses.json(exchange, 200, body);
            }
        }
    }

    private static List<String> validate(JsonNode ack, boolean idInBody) {
        List<String> problems = new ArrayList<>();
        if (ack == null || !ack.isObject()) {
            problems.add("$: an acknowledgment is a JSON object");
            return problems;
        }
        if (idInBody && !(ack.path("id").isTextual() && MasNames.isMessageId(ack.get("id").asText()))) {
            problems.add("$.id: required, the acknowledged message's id (" + MasNames.MESSAGE_ID_REGEX + ")");
        }
        if (!(ack.path("agent").isTextual() && org.mas.broker.MasNames.AGENT_ID.matcher(ack.get("agent").asText()).matches())) {
            problems.add("$.agent: required, the acknowledging agent's id");
        }
        if (!(ack.path("status").isTextual() && STATUSES.contains(ack.get("status").asText()))) {
            problems.add("$.status: required, one of processed, failed, rejected");
        }
        if (ack.has("detail") && !ack.get("detail").isTextual() && !ack.get("detail").isNull()) {
            problems.add("$.detail: a string");
        }
        return problems;
    }

    private void refuse(String reason) {
        refused.incrementAndGet();
        refusals.warn("Acknowledgment refused: {}", reason);
    }

    /** Acknowledgments from mas.acks that were refused since start-up. */
    public long refusedCount() {
        return refused.get();
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    private static String abbreviate(String text) {
        return text == null ? "null" : text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }
}
