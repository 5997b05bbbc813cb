package org.mas.broker.delivery;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A message id is an idempotency key: the same id with the same content is a safe retry (answered as the first time,
 * delivered once), the same id with different content is refused (REST 409, JMS to mas.invalid, files to .error), on
 * every ingress and after a restart.
 */
class IdempotencyTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path restartDir;

    private static String envelope(String id, String agent, String payload) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"request\",\"payload\":" + payload + "}";
    }

    private static double counter(String series) throws Exception {
        String metrics = broker.get("/observe/metrics", null).body();
        return metrics.lines().filter(line -> line.startsWith(series + " ")).mapToDouble(line ->
                Double.parseDouble(line.substring(series.length() + 1))).findFirst().orElse(0);
    }

    @Test
    void aRestRetryWithTheSameContentIsAnsweredAsTheFirstTimeAndDeliveredOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("retry");
        String id = "retry-" + agent;
        var first = broker.postMessage(envelope(id, agent, "{\"task\":\"sum\",\"n\":5}"));
        // the same message, fields in another order and the number spelt differently
        var again = broker.postMessage("{\"payload\":{\"n\":5.0,\"task\":\"sum\"},\"message_type\":\"request\",\"to_agent\":\""
                + agent + "\",\"from_agent\":\"planner\",\"id\":\"" + id + "\"}");

        assertThat(first.statusCode()).isEqualTo(202);
        assertThat(again.statusCode()).isEqualTo(202);
        JsonNode answer = JSON.readTree(again.body());
        assertThat(answer.get("id").asText()).isEqualTo(id);
        assertThat(answer.get("status").asText()).isEqualTo("accepted");
        assertThat(answer.get("duplicate").asBoolean()).isTrue();
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsExactly("accepted", "queued");
    }

    @Test
    void theSameIdWithOtherContentIsRefusedOverRestWith409() throws Exception {
        String agent = Envelopes.uniqueAgent("reuse");
        String id = "reuse-" + agent;
        assertThat(broker.postMessage(envelope(id, agent, "{\"v\":1}")).statusCode()).isEqualTo(202);
        var reused = broker.postMessage(envelope(id, agent, "{\"v\":2}"));

        assertThat(reused.statusCode()).isEqualTo(409);
        assertThat(reused.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).contains("json"));
        JsonNode error = JSON.readTree(reused.body());
        assertThat(error.get("error").asText()).contains(id, "already used for a different message");
        // both answers came: the first copy was on its queue before its 202, and the 409 sends nothing
        var queued = broker.receiveExactly("mas.agent." + agent, 1);
        assertThat(((TextMessage) queued.get(0)).getText()).contains("\"v\":1");
    }

    @Test
    void overJmsASameContentResendIsDroppedAndOtherContentGoesToInvalid() throws Exception {
        String agent = Envelopes.uniqueAgent("jms-reuse");
        String id = "jms-reuse-" + agent;
        double duplicatesBefore = counter("mas_messages_duplicate_total{ingress=\"jms\"}");
        broker.sendText("mas.inbound", envelope(id, agent, "{\"v\":1}"), Map.of());
        await().until(() -> broker.depth("mas.agent." + agent) == 1);
        broker.sendText("mas.inbound", envelope(id, agent, "{\"v\":1}"), Map.of());
        await().until(() -> counter("mas_messages_duplicate_total{ingress=\"jms\"}") == duplicatesBefore + 1);
        broker.sendText("mas.inbound", envelope(id, agent, "{\"v\":2}"), Map.of());

        TextMessage invalid = (TextMessage) broker.receive("mas.invalid", 10).stream()
                .filter(m -> { try { return ((TextMessage) m).getText().contains(id); } catch (Exception e) { return false; } })
                .findFirst().orElseThrow();
        assertThat(invalid.getStringProperty("mas_error")).contains("already used for a different message");
        assertThat(invalid.getText()).contains("\"v\":2"); // unchanged, as sent
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsExactly("accepted", "queued");
    }

    @Test
    void aFileWithAnIdAlreadyAcceptedIsDoneOnceAndOtherContentGoesToError() throws Exception {
        Path inbox = broker.dataDir().resolve("inbox");
        Files.createDirectories(inbox);
        String agent = Envelopes.uniqueAgent("file-reuse");
        String id = "file-reuse-" + agent;
        drop(inbox, agent + "-1.json", envelope(id, agent, "{\"v\":1}"));
        await().untilAsserted(() -> assertThat(inbox.resolve(".done").resolve(agent + "-1.json")).exists());
        drop(inbox, agent + "-2.json", envelope(id, agent, "{\"v\":1}"));
        await().untilAsserted(() -> assertThat(inbox.resolve(".done").resolve(agent + "-2.json")).exists());
        drop(inbox, agent + "-3.json", envelope(id, agent, "{\"v\":3}"));
        Path reason = inbox.resolve(".error").resolve(agent + "-3.json.reason.txt");
        await().untilAsserted(() -> assertThat(reason).exists());

        assertThat(Files.readString(reason)).contains("already used for a different message");
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
    }

    @Test
    void theLedgerRemembersIdsAcrossARestartAndARefusedAttemptCanBeRetried() throws Exception {
        String agent = Envelopes.uniqueAgent("remembered");
        String id = "remembered-" + agent;
        Map<String, String> limit = Map.of("MESSAGE_BROKER_BACKLOG_MAX_DEPTH", "1");
        try (RunningBroker first = RunningBroker.start(restartDir, limit)) {
            assertThat(first.postMessage(envelope(id, agent, "{\"v\":1}")).statusCode()).isEqualTo(202);
            // refused while the agent's queue is full: its id is not used up by the refusal
            String[] refused = new String[1];
            await().until(() -> {
                refused[0] = "refused-" + java.util.UUID.randomUUID();
                return first.postMessage(envelope(refused[0], agent, "{\"r\":1}")).statusCode() == 429;
            });
            assertThat(first.receive("mas.agent." + agent, 1_000)).isNotEmpty(); // drained
            await().until(() -> first.postMessage(envelope(refused[0], agent, "{\"r\":1}")).statusCode() == 202);
            TextMessage retried = (TextMessage) first.receiveOne("mas.agent." + agent);
            assertThat(retried.getStringProperty("mas_id")).isEqualTo(refused[0]);
        }
        try (RunningBroker again = RunningBroker.start(restartDir, limit)) {
            assertThat(again.postMessage(envelope(id, agent, "{\"v\":2}")).statusCode()).isEqualTo(409);
            var retry = again.postMessage(envelope(id, agent, "{\"v\":1}"));
            assertThat(retry.statusCode()).isEqualTo(202);
            assertThat(JSON.readTree(retry.body()).get("duplicate").asBoolean()).isTrue();
            assertThat(again.depth("mas.agent." + agent)).isZero();
        }
    }

    private static void drop(Path inbox, String name, String content) throws Exception {
        Path temporary = inbox.resolve(name + ".part");
        Files.writeString(temporary, content);
        Files.move(temporary, inbox.resolve(name));
    }

    private static final java.util.concurrent.atomic.AtomicBoolean FAIL_DEAD_LETTERS = new java.util.concurrent.atomic.AtomicBoolean();

    @Test
    void aRetryAfterA503WithSomeCopiesQueuedReachesEveryRecipient() throws Exception {
        org.apache.camel.builder.AdviceWith.adviceWith(broker.context(), "dead-letter", route -> route.weaveAddFirst()
                .process(exchange -> {
                    if (FAIL_DEAD_LETTERS.get()) {
                        throw new IllegalStateException("simulated: mas.dlq does not take it either");
                    }
                }));
        String a = Envelopes.uniqueAgent("part-a");
        String b = Envelopes.uniqueAgent("part-b");
        String id = "partial-" + a;
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + b
                + "\",\"max_depth\":1}").statusCode()).isEqualTo(201);
        broker.sendText("mas.agent." + b, "filler", Map.of()); // b's queue is full: its copy cannot be sent
        String envelope = "{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agents\":[\"" + a + "\",\"" + b
                + "\"],\"message_type\":\"request\",\"payload\":{}}";
        FAIL_DEAD_LETTERS.set(true);
        try {
            // a's copy is queued, b's is neither queued nor parked: the broker cannot take the message, 503
            assertThat(broker.postMessage(envelope).statusCode()).isEqualTo(503);
        } finally {
            FAIL_DEAD_LETTERS.set(false);
        }
        assertThat(broker.receive("mas.agent." + b, 1)).hasSize(1); // room again

        var retry = broker.postMessage(envelope);
        assertThat(retry.statusCode()).isEqualTo(202);
        assertThat(JSON.readTree(retry.body()).has("duplicate")).isFalse(); // not taken for the attempt that failed
        assertThat(((TextMessage) broker.receiveOne("mas.agent." + b)).getStringProperty("mas_id")).isEqualTo(id);
        assertThat(broker.depth("mas.agent." + a)).isEqualTo(1); // the first attempt's copy, the retry's dropped
    }
}
