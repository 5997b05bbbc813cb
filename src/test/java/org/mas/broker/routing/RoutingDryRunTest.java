package org.mas.broker.routing;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RoutesCopy;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * POST /api/routing/test: what a real send of the same envelope would do, through the same rules, with nothing sent
 * or recorded. Rules of its own (a temporary copy of routes/): the shipped audit copy, an "only" and a "remove" rule.
 */
class RoutingDryRunTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String READER = "reader-key-0123456789";
    static final String SENDER = "sender-key-0123456789";
    static final String BOUND = "bound-key-0123456789";
    static final String KEYS = "[\"" + RunningBroker.API_KEY + "\","
            + "{\"name\":\"reader\",\"key\":\"" + READER + "\",\"scopes\":[\"read\"]},"
            + "{\"name\":\"sender\",\"key\":\"" + SENDER + "\",\"scopes\":[\"send\"]},"
            + "{\"name\":\"bound\",\"key\":\"" + BOUND + "\",\"scopes\":[\"send\",\"read\"],\"agents\":[\"crm\"]}]";
    static final RoutesCopy ROUTES;

    static {
        try {
            ROUTES = RoutesCopy.of(Files.createTempDirectory("mas-dry-run-routes"));
            ROUTES.writeRules(RoutesCopy.shippedWith(
                    RoutesCopy.rule("itar-to-compliance", "${exchangeProperty.envelope.messageType} == 'command' && "
                            + "${exchangeProperty.envelope.field('classification')} == 'ITAR'", "only(*, 'compliance')")
                    + RoutesCopy.rule("no-interns-on-secrets", "${exchangeProperty.envelope.payload[secret]} == true",
                            "remove(*, 'intern')")));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // identities on: a broadcast reaches the registry's agents only (not whatever queues earlier tests made)
    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_AGENTS", "alpha,beta,gamma",
            "MESSAGE_BROKER_API_KEYS", KEYS, "MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false",
            "MESSAGE_BROKER_BACKLOG_MAX_DEPTH", "3"), ROUTES.properties(0));

    @Test
    void aDryRunAndARealSendOfTheSameEnvelopeGetTheSameRecipients() throws Exception {
        String tag = Envelopes.uniqueAgent("same");
        List<String> envelopes = List.of(
                // addressed only
                envelope("plain-" + tag, "\"to_agent\":\"worker-" + tag + "\",\"message_type\":\"request\",\"payload\":{}"),
                // the shipped rule: an audit task is copied to the auditor
                envelope("audit-" + tag, "\"to_agent\":\"worker-" + tag + "\",\"message_type\":\"request\","
                        + "\"payload\":{\"task_type\":\"audit\"}"),
                // only(): the addressed agents are replaced
                envelope("itar-" + tag, "\"to_agents\":[\"a-" + tag + "\",\"b-" + tag + "\"],\"message_type\":\"command\","
                        + "\"classification\":\"ITAR\",\"payload\":{}"),
                // remove(): one addressed agent is taken out
                envelope("secret-" + tag, "\"to_agents\":[\"intern\",\"analyst-" + tag + "\"],\"message_type\":\"event\","
                        + "\"payload\":{\"secret\":true}"),
                // a broadcast: every registered agent but the sender
                "{\"id\":\"broadcast-" + tag + "\",\"from_agent\":\"alpha\",\"to_agent\":\"broadcast\","
                        + "\"message_type\":\"broadcast\",\"payload\":{}}");
        List<List<String>> expected = List.of(List.of("worker-" + tag), List.of("worker-" + tag, "auditor"),
                List.of("compliance"), List.of("analyst-" + tag), List.of("beta", "gamma"));
        for (int i = 0; i < envelopes.size(); i++) {
            JsonNode dry = dryRun(RunningBroker.API_KEY, envelopes.get(i));
            assertThat(dry.get("outcome").asText()).as(dry.toString()).isEqualTo("queued");
            assertThat(dry.get("status").asInt()).isEqualTo(202);
            List<String> dryRecipients = new ArrayList<>();
            dry.get("recipients").forEach(r -> dryRecipients.add(r.get("recipient").asText()));
            assertThat(dryRecipients).as(dry.toString()).containsExactlyInAnyOrderElementsOf(expected.get(i));
            List<String> dryQueues = new ArrayList<>();
            dry.get("queues").forEach(q -> dryQueues.add(q.asText()));
            assertThat(dryQueues).containsExactlyInAnyOrderElementsOf(expected.get(i).stream().map(a -> "mas.agent." + a).toList());

            String id = dry.get("envelope").get("id").asText();
            HttpResponse<String> sent = broker.postMessage(envelopes.get(i));
            assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
            await().untilAsserted(() -> assertThat(ledgerRecipients(id)).as(id)
                    .containsExactlyInAnyOrderElementsOf(dryRecipients));
        }
    }

    @Test
    void aDryRunNamesTheRuleThatAddedOrRemovedEachRecipient() throws Exception {
        String tag = Envelopes.uniqueAgent("why");
        JsonNode audit = dryRun(READER, envelope("why-audit-" + tag, "\"to_agent\":\"worker-" + tag + "\","
                + "\"message_type\":\"request\",\"payload\":{\"task_type\":\"audit\"}"));
        JsonNode worker = audit.get("recipients").get(0);
        assertThat(worker.get("recipient").asText()).isEqualTo("worker-" + tag);
        assertThat(worker.get("added_by").get("rule").asText()).isEqualTo("addressed");
        assertThat(worker.get("added_by").get("action").asText()).isEqualTo("addressed: to_agent");
        JsonNode auditor = audit.get("recipients").get(1);
        assertThat(auditor.get("recipient").asText()).isEqualTo("auditor");
        assertThat(auditor.get("queue").asText()).isEqualTo("mas.agent.auditor");
        assertThat(auditor.get("added_by").get("rule").asText()).isEqualTo("audit-copy");
        assertThat(auditor.get("added_by").get("action").asText()).isEqualTo("add");
        assertThat(auditor.get("added_by").get("source").asText()).startsWith("routing-rules.yaml:");
        assertThat(audit.get("removed")).isEmpty();
        assertThat(audit.get("rules").get("route_id").asText()).isEqualTo("routing-rules");

        JsonNode itar = dryRun(READER, envelope("why-itar-" + tag, "\"to_agents\":[\"a-" + tag + "\",\"b-" + tag + "\"],"
                + "\"message_type\":\"command\",\"classification\":\"ITAR\",\"payload\":{}"));
        assertThat(itar.get("recipients")).hasSize(1);
        assertThat(itar.get("recipients").get(0).get("added_by").get("rule").asText()).isEqualTo("itar-to-compliance");
        assertThat(itar.get("removed")).hasSize(2);
        for (JsonNode removed : itar.get("removed")) {
            assertThat(removed.get("recipient").asText()).isIn("a-" + tag, "b-" + tag);
            assertThat(removed.get("removed_by").get("rule").asText()).isEqualTo("itar-to-compliance");
            assertThat(removed.get("removed_by").get("action").asText()).isEqualTo("only");
        }

        JsonNode secret = dryRun(READER, envelope("why-secret-" + tag, "\"to_agents\":[\"intern\",\"analyst\"],"
                + "\"message_type\":\"event\",\"payload\":{\"secret\":true}"));
        assertThat(secret.get("removed").get(0).get("recipient").asText()).isEqualTo("intern");
        assertThat(secret.get("removed").get(0).get("removed_by").get("rule").asText()).isEqualTo("no-interns-on-secrets");
    }

    @Test
    void aDryRunSendsAndRecordsNothing() throws Exception {
        String agent = Envelopes.uniqueAgent("never");
        String id = "dry-only-" + agent;
        Map<String, Double> before = counters();

        JsonNode dry = dryRun(RunningBroker.API_KEY, envelope(id, "\"to_agent\":\"" + agent + "\",\"message_type\":\"request\","
                + "\"payload\":{\"n\":1}"));
        assertThat(dry.get("outcome").asText()).isEqualTo("queued");
        assertThat(dry.get("queues").get(0).asText()).isEqualTo("mas.agent." + agent);
        assertThat(dry.get("envelope").get("id").asText()).isEqualTo(id);
        assertThat(dry.get("envelope").get("priority").asInt()).isEqualTo(5); // normalized

        assertThat(broker.get("/api/messages/" + id, RunningBroker.API_KEY).statusCode()).isEqualTo(404); // no ledger step
        assertThat(broker.queueExists("mas.agent." + agent)).isFalse(); // no queue
        assertThat(counters()).isEqualTo(before); // no traffic counted
        // no idempotency entry: the same id with other content is a new message, not a conflict
        HttpResponse<String> real = broker.postMessage(envelope(id, "\"to_agent\":\"" + agent + "\",\"message_type\":\"request\","
                + "\"payload\":{\"n\":2}"));
        assertThat(real.statusCode()).as(real.body()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent).getBody(String.class)).contains("\"n\":2");

        // now the id is taken: the dry-run says what a real send would
        JsonNode same = dryRun(RunningBroker.API_KEY, envelope(id, "\"to_agent\":\"" + agent + "\",\"message_type\":\"request\","
                + "\"payload\":{\"n\":2}"));
        assertThat(same.get("outcome").asText()).isEqualTo("duplicate");
        assertThat(same.get("status").asInt()).isEqualTo(202);
        JsonNode other = dryRun(RunningBroker.API_KEY, envelope(id, "\"to_agent\":\"" + agent + "\",\"message_type\":\"request\","
                + "\"payload\":{\"n\":3}"));
        assertThat(other.get("outcome").asText()).isEqualTo("invalid");
        assertThat(other.get("status").asInt()).isEqualTo(409);
        assertThat(broker.depth("mas.agent." + agent)).isZero();
    }

    @Test
    void anInvalidEnvelopeGetsTheErrorsOfARealSend() throws Exception {
        String bad = "{\"from_agent\":\"x\",\"to_agent\":\"y\",\"to_agents\":[\"z\"],\"message_type\":\"gossip\","
                + "\"priority\":99,\"payload\":{}}";
        JsonNode dry = dryRun(RunningBroker.API_KEY, bad);
        HttpResponse<String> real = broker.postMessage(bad);
        assertThat(real.statusCode()).isEqualTo(400);
        JsonNode refused = JSON.readTree(real.body());
        assertThat(dry.get("outcome").asText()).isEqualTo("invalid");
        assertThat(dry.get("status").asInt()).isEqualTo(400);
        assertThat(dry.get("error")).isEqualTo(refused.get("error"));
        assertThat(dry.get("details")).isEqualTo(refused.get("details"));
        assertThat(dry.get("details").size()).isGreaterThanOrEqualTo(3);

        // a key bound to agents may try only what it may send
        String impostor = envelope("bound-" + Envelopes.uniqueAgent("x"), "\"to_agent\":\"y\",\"message_type\":\"event\","
                + "\"payload\":{}").replace("\"from_agent\":\"tester\"", "\"from_agent\":\"not-crm\"");
        JsonNode forbidden = dryRun(BOUND, impostor);
        JsonNode realForbidden = JSON.readTree(broker.post("/api/messages", BOUND, "application/json", impostor).body());
        assertThat(forbidden.get("status").asInt()).isEqualTo(403);
        assertThat(forbidden.get("error")).isEqualTo(realForbidden.get("error"));
        assertThat(forbidden.get("details")).isEqualTo(realForbidden.get("details"));

        JsonNode empty = dryRun(RunningBroker.API_KEY, "");
        assertThat(empty.get("outcome").asText()).isEqualTo("invalid");
        assertThat(empty.get("error").asText()).startsWith("empty message");
    }

    @Test
    void unroutableAndBacklogAreTheOutcomesOfARealSend() throws Exception {
        String tag = Envelopes.uniqueAgent("nowhere");
        String toNobody = "{\"id\":\"cap-" + tag + "\",\"from_agent\":\"tester\",\"to_capability\":\"nobody.offers.this\","
                + "\"message_type\":\"request\",\"payload\":{}}";
        JsonNode dry = dryRun(RunningBroker.API_KEY, toNobody);
        assertThat(dry.get("outcome").asText()).isEqualTo("unroutable");
        assertThat(dry.get("status").asInt()).isEqualTo(202);
        assertThat(dry.get("queues").get(0).asText()).isEqualTo("mas.dlq");
        assertThat(broker.postMessage(toNobody).statusCode()).isEqualTo(202);
        Message dead = broker.deadLetter("cap-" + tag);
        assertThat(dead.getStringProperty("mas_error")).isEqualTo(dry.get("reason").asText());

        String full = Envelopes.uniqueAgent("full");
        for (int i = 0; i < 3; i++) {
            assertThat(broker.postMessage(Envelopes.to("tester", full)).statusCode()).isEqualTo(202);
        }
        // depths are read at most once a second: wait for the dry-run to see the queue at its limit
        await().untilAsserted(() -> assertThat(dryRun(RunningBroker.API_KEY, Envelopes.to("tester", full))
                .get("outcome").asText()).isEqualTo("backlog"));
        JsonNode backlog = dryRun(RunningBroker.API_KEY, Envelopes.to("tester", full));
        assertThat(backlog.get("status").asInt()).isEqualTo(429);
        assertThat(backlog.get("reason").asText()).startsWith("backlog: mas.agent." + full + " holds 3 messages (limit 3)");
        assertThat(broker.postMessage(Envelopes.to("tester", full)).statusCode()).isEqualTo(429);
        assertThat(broker.depth("mas.agent." + full)).isEqualTo(3);
    }

    @Test
    void theDryRunNeedsTheReadScopeAndAJsonBody() throws Exception {
        HttpResponse<String> sendOnly = broker.post("/api/routing/test", SENDER, "application/json", Envelopes.to("a", "b"));
        assertThat(sendOnly.statusCode()).isEqualTo(403);
        assertThat(sendOnly.body()).contains("lacks the scope 'read' for POST /api/routing/test");
        HttpResponse<String> text = broker.post("/api/routing/test", READER, "text/plain", Envelopes.to("a", "b"));
        assertThat(text.statusCode()).isEqualTo(415);
        assertThat(broker.post("/api/routing/test", null, "application/json", Envelopes.to("a", "b")).statusCode()).isEqualTo(401);
    }

    static String envelope(String id, String rest) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"tester\"," + rest + "}";
    }

    static JsonNode dryRun(String key, String envelope) throws Exception {
        HttpResponse<String> response = broker.post("/api/routing/test", key, "application/json", envelope);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    static List<String> ledgerRecipients(String id) throws Exception {
        HttpResponse<String> status = broker.get("/api/messages/" + id, RunningBroker.API_KEY);
        List<String> agents = new ArrayList<>();
        if (status.statusCode() == 200) {
            JSON.readTree(status.body()).get("recipients").forEach(r -> agents.add(r.get("agent").asText()));
        }
        return agents;
    }

    private static final Pattern SAMPLE = Pattern.compile("^(mas_(?:messages|deliveries)_[a-z_]*total(?:\\{[^}]*})?) ([-+0-9.Ee]+)$",
            Pattern.MULTILINE);

    /** The traffic counters of /observe/metrics (received, routed, delivered, dead-lettered, ...). */
    static Map<String, Double> counters() throws Exception {
        Map<String, Double> values = new java.util.TreeMap<>();
        Matcher sample = SAMPLE.matcher(broker.get("/observe/metrics", null).body());
        while (sample.find()) {
            values.put(sample.group(1), Double.parseDouble(sample.group(2)));
        }
        assertThat(values).isNotEmpty();
        return values;
    }
}
