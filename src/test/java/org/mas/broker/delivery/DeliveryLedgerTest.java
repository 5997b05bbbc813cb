package org.mas.broker.delivery;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The delivery ledger on the embedded default (H2 files under the data directory). */
class DeliveryLedgerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;

    @Test
    void everyStepOfAMessageIsRecordedAndReportedPerRecipient() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            String one = Envelopes.uniqueAgent("one");
            String two = Envelopes.uniqueAgent("two");
            HttpResponse<String> accepted = broker.postMessage("{\"id\":\"ledger-1\",\"from_agent\":\"planner\","
                    + "\"to_agents\":[\"" + one + "\",\"" + two + "\"],\"message_type\":\"request\",\"payload\":{},"
                    + "\"requires_ack\":true,\"correlation_id\":\"c-9\"}");
            assertThat(accepted.statusCode()).isEqualTo(202);

            JsonNode status = status(broker, "ledger-1");

            assertThat(status.get("id").asText()).isEqualTo("ledger-1");
            assertThat(status.get("message").get("from_agent").asText()).isEqualTo("planner");
            assertThat(status.get("message").get("ingress").asText()).isEqualTo("rest");
            assertThat(status.get("message").get("requires_ack").asBoolean()).isTrue();
            assertThat(status.get("recipients")).hasSize(2);
            for (JsonNode recipient : status.get("recipients")) {
                assertThat(recipient.get("status").asText()).isEqualTo("queued");
                assertThat(recipient.get("attempts").asInt()).isEqualTo(1);
            }
            assertThat(events(status)).containsExactly("accepted", "queued", "queued");
        }
    }

    @Test
    void anUnknownIdIs404() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            HttpResponse<String> response = broker.get("/api/messages/never-sent", RunningBroker.API_KEY);
            assertThat(response.statusCode()).isEqualTo(404);
            assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("unknown message");
            assertThat(broker.get("/api/messages/never-sent", null).statusCode()).isEqualTo(401);
        }
    }

    @Test
    void aMessageFromTheTransactedJmsIngressIsRecordedOnceItIsQueued() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            String agent = Envelopes.uniqueAgent("jms");
            broker.sendText("mas.inbound", Envelopes.withId("ledger-jms", "a", agent), Map.of());
            await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1));

            await().untilAsserted(() -> assertThat(events(status(broker, "ledger-jms"))).containsExactly("accepted", "queued"));
            assertThat(status(broker, "ledger-jms").get("message").get("ingress").asText()).isEqualTo("jms");
        }
    }

    @Test
    void anUnroutableMessageIsRecordedAsDeadLettered() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            broker.postMessage("{\"id\":\"ledger-dead\",\"from_agent\":\"hermit\",\"to_agent\":\"broadcast\","
                    + "\"message_type\":\"broadcast\",\"payload\":{}}");

            JsonNode status = status(broker, "ledger-dead");
            assertThat(events(status)).containsExactly("accepted", "dead_lettered");
            assertThat(status.get("timeline").get(1).get("detail").asText()).startsWith("unroutable");
        }
    }

    @Test
    void theLedgerKeepsEverythingAcrossAnOrderlyRestart() throws Exception {
        List<String> ids = new ArrayList<>();
        String agent = Envelopes.uniqueAgent("restart");
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            for (int i = 0; i < 200; i++) {
                ids.add("restart-" + i);
                assertThat(broker.postMessage(Envelopes.withId("restart-" + i, "a", agent)).statusCode()).isEqualTo(202);
            }
        } // stopped at once: what the writer had pending is written during the shutdown
        try (RunningBroker again = RunningBroker.start(dataDir, Map.of())) {
            for (String id : ids) {
                assertThat(events(status(again, id))).as(id).containsExactly("accepted", "queued");
            }
            assertThat(again.depth("mas.agent." + agent)).isEqualTo(200);
        }
    }

    @Test
    void aCopyThatExpiresBeforeItIsConsumedLandsOnExpiredAndIsRecordedAsExpired() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of(),
                Map.of("mas.embedded-broker.expiry-scan-period-ms", "200"))) {
            String agent = Envelopes.uniqueAgent("late");
            broker.postMessage("{\"id\":\"ledger-ttl\",\"from_agent\":\"a\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"event\",\"payload\":{},\"ttl\":1}");

            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(status(broker, "ledger-ttl")
                    .get("recipients").get(0).get("status").asText())
                    .as("agent %d expired %d ledger %d", broker.depth("mas.agent." + agent), broker.depth("mas.expired"),
                            broker.depth("mas.expired.ledger"))
                    .isEqualTo("expired"));
            assertThat(broker.depth("mas.agent." + agent)).isZero();
            // recorded from mas.expired.ledger, then moved on to mas.expired: the move may commit just after the record
            await().untilAsserted(() -> assertThat(broker.depth("mas.expired")).isEqualTo(1));
            assertThat(broker.receiveOne("mas.expired").getStringProperty("mas_id")).isEqualTo("ledger-ttl");
        }
    }

    @Test
    void recordsOlderThanTheRetentionAreCleanedUp() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_LEDGER_RETENTION", "3",
                "MESSAGE_BROKER_CLEANUP_INTERVAL", "1", "MESSAGE_BROKER_ACK_TIMEOUT", "1",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "0"))) {
            broker.postMessage(Envelopes.withId("ledger-old", "a", Envelopes.uniqueAgent("b")));
            assertThat(status(broker, "ledger-old").get("timeline")).hasSize(2);

            await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(broker.get("/api/messages/ledger-old", RunningBroker.API_KEY).statusCode()).isEqualTo(404));
        }
    }

    /**
     * The first run never scans (its scan interval is an hour), so it cannot send the copy again or time it out: after
     * the restart, only what the ledger stored (one send, its deadline) tells the new tracker to send it again and then,
     * with no acknowledgment and retry_count = 1, to dead-letter it as its second send. Without the resume nothing comes.
     */
    @Test
    void aCopyWaitingForItsAcknowledgmentIsStillFollowedAfterARestart() throws Exception {
        Map<String, String> settings = Map.of("MESSAGE_BROKER_ACK_TIMEOUT", "2",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "1");
        String agent = Envelopes.uniqueAgent("restarting");
        try (RunningBroker broker = RunningBroker.start(dataDir, settings, Map.of("mas.ack.scan-interval-ms", "3600000"))) {
            broker.postMessage("{\"id\":\"ledger-resume\",\"from_agent\":\"a\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");
            assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull(); // consumed, never acknowledged
            JsonNode stored = status(broker, "ledger-resume");
            assertThat(events(stored)).containsExactly("accepted", "queued");
            assertThat(stored.get("recipients").get(0).get("attempts").asInt()).isEqualTo(1);
            assertThat(broker.depth("mas.agent." + agent)).isZero();
        }
        try (RunningBroker again = RunningBroker.start(dataDir, settings, Map.of("mas.ack.scan-interval-ms", "100"))) {
            var copy = again.receiveOne("mas.agent." + agent); // the second send, by the resumed tracker
            assertThat(copy).isNotNull();
            assertThat(copy.getIntProperty("mas_attempts")).isEqualTo(2);

            // no acknowledgment for it either: dead-lettered as the second send, which the ledger's count made it
            var dead = again.deadLetter("ledger-resume");
            assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(2);
            assertThat(dead.getStringProperty("mas_error")).isEqualTo("no acknowledgment within 2 s");
            await().untilAsserted(() -> assertThat(events(status(again, "ledger-resume")))
                    .containsExactly("accepted", "queued", "retrying", "queued", "dead_lettered"));
            assertThat(status(again, "ledger-resume").get("recipients").get(0).get("status").asText()).isEqualTo("dead_lettered");
            assertThat(again.receiveExactly("mas.agent." + agent, 0)).isEmpty();
        }
    }

    static JsonNode status(RunningBroker broker, String id) throws Exception {
        HttpResponse<String> response = broker.get("/api/messages/" + id, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    static List<String> events(JsonNode status) {
        List<String> events = new ArrayList<>();
        status.get("timeline").forEach(step -> events.add(step.get("event").asText()));
        return events;
    }
}
