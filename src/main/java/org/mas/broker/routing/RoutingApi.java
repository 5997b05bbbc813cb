package org.mas.broker.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;
import org.apache.camel.support.DefaultExchange;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.InvalidEnvelopeException;
import org.mas.broker.queues.BacklogGuard;
import org.mas.broker.rest.RequestRejectedException;
import org.mas.broker.rest.RestResponses;

/**
 * The routing rules over REST: GET /api/routing (the rules in force, the last failed load), POST /api/routing/reload
 * and POST /api/routing/test, the dry-run that answers where an envelope would go without sending or recording
 * anything. Bean name {@code routingApi}.
 */
public class RoutingApi {

    /** One check of the message path before routing (envelope validation, sender, idempotency), without effects. */
    @FunctionalInterface
    public interface Check {
        void check(Exchange exchange) throws InvalidEnvelopeException;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final RoutingRules rules;
    private final RecipientResolver recipients;
    private final BacklogGuard backlog;
    private final List<Check> checks;
    private final RestResponses responses;

    /**
     * @param checks what a real send passes before the rules, in the same order and with the same errors, but
     *               without recording anything (the envelope's validation, the sender check, the idempotency verdict)
     */
    public RoutingApi(RoutingRules rules, RecipientResolver recipients, BacklogGuard backlog, List<Check> checks,
                      RestResponses responses) {
        this.rules = rules;
        this.recipients = recipients;
        this.backlog = backlog;
        this.checks = List.copyOf(checks);
        this.responses = responses;
    }

    /** GET /api/routing. */
    public void status(Exchange exchange) {
        responses.json(exchange, 200, rules.status());
    }

    /** POST /api/routing/reload: 200 with the status ({@code reloaded} false if the file is unchanged); 400 if it fails. */
    public void reload(Exchange exchange) throws RequestRejectedException {
        Map<String, Object> before = rules.status();
        exchange.setProperty(MasNames.PROPERTY_AUDIT_TARGET, before.get("file"));
        RoutingRules.Outcome outcome = rules.reload("POST /api/routing/reload by "
                + exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class));
        if (outcome.failure() != null) {
            List<String> details = new ArrayList<>(outcome.failure().details());
            details.add("the rules loaded at " + before.get("loaded_at") + " (" + before.get("checksum") + ") stay in force");
            throw new RequestRejectedException(400, "routing rules not reloaded: " + outcome.failure().error(), details);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("reloaded", outcome.reloaded());
        body.putAll(rules.status());
        responses.json(exchange, 200, body);
    }

    /**
     * POST /api/routing/test: the envelope goes through the checks of a real send and the rules in force, on a copy of
     * the request (an exchange of its own, as the REST ingress would make it), up to the point of sending. Always 200
     * (for a JSON body): {@code outcome} is invalid, duplicate, failed, unroutable, backlog or queued, and
     * {@code status} what POST /api/messages would answer.
     */
    public void test(Exchange exchange) throws Exception {
        Exchange trial = new DefaultExchange(exchange.getContext());
        trial.getIn().setBody(exchange.getIn().getBody(byte[].class));
        trial.getIn().setHeader(MasNames.HEADER_INGRESS, MasNames.INGRESS_REST);
        for (String property : List.of(MasNames.PROPERTY_API_KEY_NAME, MasNames.PROPERTY_API_KEY_AGENTS)) {
            if (exchange.getProperty(property) != null) {
                trial.setProperty(property, exchange.getProperty(property));
            }
        }
        RoutingTrace trace = new RoutingTrace();
        trial.setProperty(MasNames.PROPERTY_ROUTING_TRACE, trace);
        Map<String, Object> answer = new LinkedHashMap<>();
        try {
            for (Check check : checks) {
                check.check(trial);
            }
        } catch (InvalidEnvelopeException e) {
            answer.put("outcome", "invalid");
            answer.put("status", e.getHttpStatus());
            answer.put("error", e.getMessage());
            answer.put("details", e.getDetails());
            responses.json(exchange, 200, answer);
            return;
        }
        Envelope envelope = trial.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        answer.put("outcome", null);
        answer.put("status", 202);
        answer.put("reason", null);
        answer.put("envelope", JSON.readTree(envelope.toJson()));
        answer.put("rules", Map.of("route_id", rules.routeId(), "checksum", String.valueOf(rules.checksum())));
        if (trial.getProperty(MasNames.PROPERTY_DUPLICATE, false, Boolean.class)) {
            answer.put("outcome", "duplicate");
            answer.put("reason", "accepted before with the same content: a real send is answered 202 and delivers "
                    + "nothing again (give the test another id to see its routing)");
            answer.put("queues", List.of());
            responses.json(exchange, 200, answer);
            return;
        }
        try {
            rules.apply(trial);
        } catch (Exception e) {
            // a real send retries the step, then parks the message on mas.dlq with this reason
            answer.put("outcome", "failed");
            answer.put("reason", "a routing rule failed: " + e);
            describeRecipients(trial, trace, answer);
            answer.put("queues", List.of(MasNames.DLQ));
            responses.json(exchange, 200, answer);
            return;
        }
        List<String> routed = describeRecipients(trial, trace, answer);
        try {
            recipients.requireAny(trial);
        } catch (UnroutableException e) {
            answer.put("outcome", "unroutable");
            answer.put("reason", e.getMessage());
            answer.put("queues", List.of(MasNames.DLQ));
            responses.json(exchange, 200, answer);
            return;
        }
        BacklogGuard.Refusal refusal = backlog.refusal(routed);
        if (refusal != null) {
            answer.put("outcome", "backlog");
            answer.put("status", 429);
            answer.put("reason", refusal.reason() + ": REST answers 429; from JMS or a file the message goes to "
                    + MasNames.DLQ + " with this reason");
            answer.put("queues", List.of());
            responses.json(exchange, 200, answer);
            return;
        }
        answer.put("outcome", "queued");
        answer.put("queues", routed.stream().map(MasNames::recipientQueue).toList());
        responses.json(exchange, 200, answer);
    }

    /** Puts "recipients" and "removed" into the answer; returns the recipients. */
    private List<String> describeRecipients(Exchange trial, RoutingTrace trace, Map<String, Object> answer) {
        @SuppressWarnings("unchecked")
        List<String> routed = trial.getIn().getHeader(MasNames.HEADER_RECIPIENTS, List.class);
        routed = routed == null ? List.of() : routed;
        List<Map<String, Object>> listed = new ArrayList<>();
        for (String recipient : routed) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("recipient", recipient);
            entry.put("queue", MasNames.recipientQueue(recipient));
            entry.put("added_by", describe(trace.addedBy(recipient)));
            listed.add(entry);
        }
        List<Map<String, Object>> removed = new ArrayList<>();
        for (Map.Entry<String, RoutingTrace.Step> gone : trace.removed()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("recipient", gone.getKey());
            entry.put("removed_by", describe(gone.getValue()));
            removed.add(entry);
        }
        answer.put("recipients", listed);
        answer.put("removed", removed);
        return routed;
    }

    private Map<String, Object> describe(RoutingTrace.Step step) {
        if (step == null) {
            return null; // set by a rule without the recipients bean
        }
        Map<String, Object> described = new LinkedHashMap<>();
        String rule = rules.ruleOf(step.nodeId());
        described.put("rule", rule != null ? rule : step.action().startsWith("addressed") ? "addressed" : step.label());
        described.put("action", step.action());
        described.put("source", step.source());
        return described;
    }
}
