package org.mas.broker.routing;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RoutesCopy;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The routing rules file changed while the broker runs: POST /api/routing/reload, the file watch, a file that fails to
 * load (the rules in force stay, the error is reported), messages routed during reloads (each exactly once), and a
 * broken file at start-up (the broker does not start). Each broker loads a temporary copy of routes/.
 */
@Timeout(300)
class RoutingReloadTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final RoutesCopy ROUTES;

    static {
        try {
            ROUTES = RoutesCopy.of(Files.createTempDirectory("mas-reload-routes"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** No file watch: only POST /api/routing/reload loads a change. */
    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of(), ROUTES.properties(0));

    @TempDir
    Path dir;

    @Test
    void aReloadPutsTheEditedRulesInForceAndIsAudited() throws Exception {
        String tag = Envelopes.uniqueAgent("billing");
        String billing = "{\"id\":\"%s\",\"from_agent\":\"shop\",\"to_agent\":\"worker-" + tag + "\",\"message_type\":\"request\","
                + "\"payload\":{\"task_type\":\"billing\"}}";
        assertThat(recipients(broker, dryRun(broker, billing.formatted("before-" + tag)))).containsExactly("worker-" + tag);

        ROUTES.writeRules(RoutesCopy.shippedWith(RoutesCopy.rule("billing-copy",
                "${exchangeProperty.envelope.payload[task_type]} == 'billing'", "add(*, 'accountant-" + tag + "')")));
        HttpResponse<String> reload = reload(broker, RunningBroker.API_KEY);
        assertThat(reload.statusCode()).as(reload.body()).isEqualTo(200);
        JsonNode reloaded = JSON.readTree(reload.body());
        assertThat(reloaded.get("reloaded").asBoolean()).isTrue();
        assertThat(reloaded.get("route_id").asText()).startsWith("routing-rules-");
        assertThat(reloaded.get("checksum").asText()).isEqualTo(sha256(ROUTES.rulesFile()));
        assertThat(reloaded.get("up_to_date").asBoolean()).isTrue();
        assertThat(reloaded.get("last_error").isNull()).isTrue();
        assertThat(reloaded.get("loaded_by").asText()).isEqualTo("POST /api/routing/reload by api-key-1");

        // the dry-run and real messages follow the new rules
        JsonNode dry = dryRun(broker, billing.formatted("after-" + tag));
        assertThat(recipients(broker, dry)).containsExactly("worker-" + tag, "accountant-" + tag);
        assertThat(dry.get("recipients").get(1).get("added_by").get("rule").asText()).isEqualTo("billing-copy");
        assertThat(broker.postMessage(billing.formatted("after-" + tag)).statusCode()).isEqualTo(202);
        Message copy = broker.receiveOne("mas.agent.accountant-" + tag);
        assertThat(copy.getStringProperty("mas_id")).isEqualTo("after-" + tag);

        // the same file again: nothing to do
        JsonNode again = JSON.readTree(reload(broker, RunningBroker.API_KEY).body());
        assertThat(again.get("reloaded").asBoolean()).isFalse();
        assertThat(again.get("route_id")).isEqualTo(reloaded.get("route_id"));

        JsonNode status = JSON.readTree(broker.get("/api/routing", RunningBroker.API_KEY).body());
        assertThat(status.get("file").asText()).endsWith("routing/routing-rules.yaml");
        assertThat(status.get("file_checksum")).isEqualTo(status.get("checksum"));
        assertThat(status.get("loaded_at").asText()).isNotBlank();

        // an operate call: audited, with the rules file as its target
        JsonNode events = JSON.readTree(broker.get("/api/audit?actor=api-key-1", RunningBroker.API_KEY).body()).get("events");
        List<JsonNode> reloads = new ArrayList<>();
        events.forEach(e -> {
            if (e.get("path").asText().equals("/api/routing/reload")) {
                reloads.add(e);
            }
        });
        assertThat(reloads).isNotEmpty();
        assertThat(reloads.get(0).get("status").asInt()).isEqualTo(200);
        assertThat(reloads.get(0).get("scope").asText()).isEqualTo("operate");
        assertThat(reloads.get(0).get("target").asText()).endsWith("routing/routing-rules.yaml");
    }

    @Test
    void aFileThatFailsToLoadLeavesTheRulesInForceAndReportsTheError() throws Exception {
        String tag = Envelopes.uniqueAgent("kept");
        String good = RoutesCopy.shippedWith(RoutesCopy.rule("ops-copy", "${exchangeProperty.envelope.payload[kept]} == '" + tag + "'",
                "add(*, 'ops-" + tag + "')"));
        ROUTES.writeRules(good);
        assertThat(reload(broker, RunningBroker.API_KEY).statusCode()).isEqualTo(200);
        String goodChecksum = sha256(ROUTES.rulesFile());
        String addOps = "method: \"add(*, 'ops-" + tag + "')\"\n";
        assertThat(good).contains(addOps);

        Map<String, String> broken = Map.of(
                "a Simple expression that does not parse", good.replace("== '" + tag + "'", "== '" + tag + "' && ${"),
                "a YAML syntax error", good + "\n  - [unclosed\n",
                "a step Camel does not know", good.replace("- bean:\n                      ref: recipients\n                      method: \"add(*, 'ops-",
                        "- noSuchStep:\n                      ref: recipients\n                      method: \"add(*, 'ops-"),
                "a bean method that does not exist", good.replace("add(*, 'ops-", "addd(*, 'ops-"),
                "the rules route before routing-rules.yaml had its own route (from direct:route)",
                good.replace("uri: direct:routing-rules", "uri: direct:route"),
                "an empty file", "",
                "the steps that follow the rules", good + FOLLOWING_STEPS,
                // the dry-run runs the rules as they are: a step that sent would send from POST /api/routing/test too
                "a rule that sends (to)", good.replace(addOps, addOps + "                  - to: \"seda:side-" + tag + "\"\n"),
                "a rule that sends (wireTap)", good.replace(addOps, addOps
                        + "                  - wireTap:\n                      uri: \"seda:tap-" + tag + "\"\n"));
        int n = 0;
        for (Map.Entry<String, String> change : broken.entrySet()) {
            ROUTES.writeRules(change.getValue());
            HttpResponse<String> refused = reload(broker, RunningBroker.API_KEY);
            assertThat(refused.statusCode()).as(change.getKey() + ": " + refused.body()).isEqualTo(400);
            JsonNode error = JSON.readTree(refused.body());
            assertThat(error.get("error").asText()).as(change.getKey()).startsWith("routing rules not reloaded: ")
                    .contains("routing-rules.yaml");
            assertThat(error.get("details").size()).as(change.getKey()).isGreaterThanOrEqualTo(2);
            assertThat(error.get("details").get(error.get("details").size() - 1).asText()).contains("stay in force");
            assertThat(refused.body()).doesNotContain("routing-rules-");

            JsonNode status = JSON.readTree(broker.get("/api/routing", RunningBroker.API_KEY).body());
            assertThat(status.get("checksum").asText()).as(change.getKey()).isEqualTo(goodChecksum);
            assertThat(status.get("up_to_date").asBoolean()).isFalse();
            assertThat(status.get("last_error").get("checksum").asText()).isEqualTo(sha256(ROUTES.rulesFile()));
            assertThat(status.get("last_error").get("at").asText()).isNotBlank();
            assertThat(status.get("last_error").get("details")).isNotEmpty();

            // the rules in force still route
            String id = "kept-" + (++n) + "-" + tag;
            assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"a\",\"to_agent\":\"b-" + tag + "\","
                    + "\"message_type\":\"event\",\"payload\":{\"kept\":\"" + tag + "\"}}").statusCode()).isEqualTo(202);
            assertThat(broker.receiveOne("mas.agent.ops-" + tag).getStringProperty("mas_id")).as(change.getKey()).isEqualTo(id);
        }
        // what fails to load is named
        ROUTES.writeRules(broken.get("the rules route before routing-rules.yaml had its own route (from direct:route)"));
        assertThat(reload(broker, RunningBroker.API_KEY).body()).contains("the route must read from direct:routing-rules, not direct:route");
        ROUTES.writeRules(broken.get("a bean method that does not exist"));
        assertThat(reload(broker, RunningBroker.API_KEY).body()).contains("addd");
        ROUTES.writeRules(broken.get("the steps that follow the rules"));
        assertThat(reload(broker, RunningBroker.API_KEY).body()).contains("remove the step Bean[ref:recipients method:requireAny]")
                .containsIgnoringCase("remove the step To[direct:deliver]");
        ROUTES.writeRules(broken.get("a rule that sends (to)"));
        assertThat(reload(broker, RunningBroker.API_KEY).body()).containsIgnoringCase("remove the step To[seda:side-" + tag + "] (line ")
                .contains("the rules only change the recipients and send nothing");
        ROUTES.writeRules(broken.get("a rule that sends (wireTap)"));
        assertThat(reload(broker, RunningBroker.API_KEY).body()).containsIgnoringCase("remove the step WireTap[seda:tap-" + tag + "]");

        // back to the file in force: nothing to load, and the error is gone
        ROUTES.writeRules(good);
        JsonNode restored = JSON.readTree(reload(broker, RunningBroker.API_KEY).body());
        assertThat(restored.get("reloaded").asBoolean()).isFalse();
        assertThat(restored.get("up_to_date").asBoolean()).isTrue();
        assertThat(restored.get("last_error").isNull()).isTrue();

        JsonNode events = JSON.readTree(broker.get("/api/audit?actor=api-key-1", RunningBroker.API_KEY).body()).get("events");
        boolean refusedReloadAudited = false;
        for (JsonNode event : events) {
            refusedReloadAudited |= event.get("path").asText().equals("/api/routing/reload") && event.get("status").asInt() == 400
                    && event.get("detail").asText().startsWith("routing rules not reloaded");
        }
        assertThat(refusedReloadAudited).isTrue();
    }

    @Test
    void messagesRoutedWhileTheRulesAreReloadedArriveExactlyOnce() throws Exception {
        String tag = Envelopes.uniqueAgent("stream");
        String worker = "mas.agent.worker-" + tag;
        String[] versions = new String[2];
        for (int v = 0; v < 2; v++) {
            versions[v] = RoutesCopy.shippedWith(RoutesCopy.rule("observe-" + v,
                    "${exchangeProperty.envelope.payload[stream]} == '" + tag + "'", "add(*, 'observer-" + v + "-" + tag + "')"));
        }
        ROUTES.writeRules(versions[0]);
        assertThat(reload(broker, RunningBroker.API_KEY).statusCode()).isEqualTo(200);

        int jmsMessages = 400;
        int restMessages = 60;
        AtomicInteger sent = new AtomicInteger();
        CompletableFuture<Void> jms = CompletableFuture.runAsync(() -> {
            try {
                for (int i = 0; i < jmsMessages; i++) {
                    broker.sendText("mas.inbound", message("jms-" + i + "-" + tag, tag), Map.of());
                    sent.incrementAndGet();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        CompletableFuture<Void> rest = CompletableFuture.runAsync(() -> {
            try {
                for (int i = 0; i < restMessages; i++) {
                    HttpResponse<String> answer = broker.postMessage(message("rest-" + i + "-" + tag, tag));
                    if (answer.statusCode() != 202) {
                        throw new IllegalStateException(answer.body());
                    }
                    sent.incrementAndGet();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().until(() -> sent.get() >= 20);
        int reloads = 0;
        while (reloads < 6 || !(jms.isDone() && rest.isDone()) && reloads < 40) {
            ROUTES.writeRules(versions[++reloads % 2]);
            HttpResponse<String> reload = reload(broker, RunningBroker.API_KEY);
            assertThat(reload.statusCode()).as(reload.body()).isEqualTo(200);
            assertThat(JSON.readTree(reload.body()).get("reloaded").asBoolean()).isTrue();
        }
        jms.get(120, TimeUnit.SECONDS);
        rest.get(120, TimeUnit.SECONDS);
        int total = jmsMessages + restMessages;
        System.out.printf("%d reloads while %d messages were sent%n", reloads, total);

        // every message reached the worker once, and exactly one observer (the rules of one version or the other)
        await().atMost(java.time.Duration.ofSeconds(120)).until(() -> broker.depth(worker) >= total
                && broker.depth("mas.agent.observer-0-" + tag) + broker.depth("mas.agent.observer-1-" + tag) >= total
                && broker.depth("mas.inbound") == 0);
        Set<String> expected = new HashSet<>();
        for (int i = 0; i < jmsMessages; i++) {
            expected.add("jms-" + i + "-" + tag);
        }
        for (int i = 0; i < restMessages; i++) {
            expected.add("rest-" + i + "-" + tag);
        }
        assertThat(ids(broker.receiveExactly(worker, total))).containsExactlyInAnyOrderElementsOf(expected);
        List<String> observed = new ArrayList<>();
        for (int v = 0; v < 2; v++) {
            String observer = "mas.agent.observer-" + v + "-" + tag;
            observed.addAll(ids(broker.receiveExactly(observer, (int) broker.depth(observer))));
        }
        assertThat(observed).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(broker.depth("mas.dlq")).isZero();
    }

    @Test
    void theFileWatchLoadsASavedChangeAndKeepsTheRulesWhenOneFails() throws Exception {
        RoutesCopy routes = RoutesCopy.of(dir);
        String tag = Envelopes.uniqueAgent("watched");
        try (RunningBroker watched = RunningBroker.start(dir.resolve("data"), Map.of(), routes.properties(200))) {
            String envelope = "{\"id\":\"%s\",\"from_agent\":\"a\",\"to_agent\":\"b\",\"message_type\":\"event\","
                    + "\"payload\":{\"watched\":\"" + tag + "\"}}";
            assertThat(recipients(watched, dryRun(watched, envelope.formatted("w0")))).containsExactly("b");

            String good = RoutesCopy.shippedWith(RoutesCopy.rule("watched-copy",
                    "${exchangeProperty.envelope.payload[watched]} == '" + tag + "'", "add(*, 'watcher-" + tag + "')"));
            routes.writeRules(good);
            String goodChecksum = sha256(routes.rulesFile());
            await().untilAsserted(() -> assertThat(JSON.readTree(watched.get("/api/routing", RunningBroker.API_KEY).body())
                    .get("checksum").asText()).isEqualTo(goodChecksum));
            JsonNode status = JSON.readTree(watched.get("/api/routing", RunningBroker.API_KEY).body());
            assertThat(status.get("loaded_by").asText()).isEqualTo("file watch");
            assertThat(status.get("watch_interval_ms").asLong()).isEqualTo(200);
            assertThat(recipients(watched, dryRun(watched, envelope.formatted("w1")))).containsExactly("b", "watcher-" + tag);

            routes.writeRules(good.replace("== '" + tag + "'", "== '" + tag + "' && ${"));
            String brokenChecksum = sha256(routes.rulesFile());
            await().untilAsserted(() -> {
                JsonNode failed = JSON.readTree(watched.get("/api/routing", RunningBroker.API_KEY).body());
                assertThat(failed.get("last_error").isNull()).isFalse();
                assertThat(failed.get("last_error").get("checksum").asText()).isEqualTo(brokenChecksum);
            });
            JsonNode failed = JSON.readTree(watched.get("/api/routing", RunningBroker.API_KEY).body());
            assertThat(failed.get("checksum").asText()).isEqualTo(goodChecksum);
            assertThat(failed.get("up_to_date").asBoolean()).isFalse();
            assertThat(failed.get("last_error").get("error").asText()).contains("routing-rules.yaml has an error");
            assertThat(recipients(watched, dryRun(watched, envelope.formatted("w2")))).containsExactly("b", "watcher-" + tag);
            assertThat(watched.postMessage(envelope.formatted("w2")).statusCode()).isEqualTo(202);
            assertThat(watched.receiveOne("mas.agent.watcher-" + tag).getStringProperty("mas_id")).isEqualTo("w2");
        }
    }

    @Test
    void aBrokenRulesFileStillStopsStartUp() throws Exception {
        RoutesCopy routes = RoutesCopy.of(dir);
        routes.writeRules(RoutesCopy.shippedWith("              - noSuchStep: {}\n"));
        assertThatThrownBy(() -> RunningBroker.start(dir.resolve("data"), Map.of(), routes.properties(0)))
                .satisfies(e -> assertThat(causeChain(e)).contains("routing-rules.yaml"));

        // a rules file of the earlier layout (from direct:route, mas-errors, and the steps after the rules) is refused
        routes.writeRules(RoutesCopy.shippedWith("").replace("uri: direct:routing-rules", "uri: direct:route")
                .replace("routeConfigurationId: mas-routing-rules", "routeConfigurationId: mas-errors") + FOLLOWING_STEPS);
        assertThatThrownBy(() -> RunningBroker.start(dir.resolve("data"), Map.of(), routes.properties(0)))
                .satisfies(e -> assertThat(causeChain(e)).contains("routing-rules.yaml")
                        .contains("the route must read from direct:routing-rules, not direct:route")
                        .contains("the route must name routeConfigurationId: mas-routing-rules, not mas-errors")
                        .containsIgnoringCase("remove the step To[direct:deliver]"));
    }

    /** The last steps of the rules route before the rules had a route of their own (now in accept.yaml). */
    static final String FOLLOWING_STEPS = """
                    - bean:
                        ref: recipients
                        method: requireAny
                    - bean:
                        ref: backlog
                        method: admit
                    - to: direct:deliver
            """;

    static String message(String id, String tag) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"feeder\",\"to_agent\":\"worker-" + tag + "\",\"message_type\":\"event\","
                + "\"payload\":{\"stream\":\"" + tag + "\"}}";
    }

    static List<String> ids(List<Message> messages) throws Exception {
        List<String> ids = new ArrayList<>();
        for (Message message : messages) {
            ids.add(message.getStringProperty("mas_id"));
        }
        return ids;
    }

    static HttpResponse<String> reload(RunningBroker on, String key) throws Exception {
        return on.post("/api/routing/reload", key, "application/json", "");
    }

    static JsonNode dryRun(RunningBroker on, String envelope) throws Exception {
        HttpResponse<String> response = on.post("/api/routing/test", RunningBroker.API_KEY, "application/json", envelope);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    static List<String> recipients(RunningBroker on, JsonNode dryRun) {
        List<String> recipients = new ArrayList<>();
        dryRun.get("recipients").forEach(r -> recipients.add(r.get("recipient").asText()));
        return recipients;
    }

    static String sha256(Path file) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static String causeChain(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            text.append(t).append('\n');
        }
        return text.toString();
    }
}
