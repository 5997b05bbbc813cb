package org.mas.broker.delivery;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the acknowledgment tracker keeps in memory, and for how long: after a restart, and for copies whose message
 * expired or whose queue was purged or deleted. ack_timeout 1 s (2 s across a restart, 4 s for ten copies), retry_count 1.
 */
class AckTrackerBoundsTest {

    private static final Map<String, String> SETTINGS = Map.of("MESSAGE_BROKER_ACK_TIMEOUT", "1",
            "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "1");
    private static final Map<String, String> FAST_SCAN = Map.of("mas.ack.scan-interval-ms", "100");

    @TempDir
    Path dataDir;

    private static AckTracker tracker(RunningBroker broker) {
        return broker.context().getRegistry().lookupByNameAndType("ackTracker", AckTracker.class);
    }

    private static String requiresAck(String id, String agent, String extra) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true" + extra + "}";
    }

    private static String recipientStatus(RunningBroker broker, String id) throws Exception {
        return DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText();
    }

    @Test
    void afterARestartACopyExpiresTtlAfterItWasReceivedNotAfterItsSendersTimestamp() throws Exception {
        Map<String, String> settings = Map.of("MESSAGE_BROKER_ACK_TIMEOUT", "2", "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "1");
        String agent = Envelopes.uniqueAgent("restarting");
        String id = "resume-ttl-" + agent;
        Instant acceptedAt;
        // the first run never scans, so it cannot send the copy again: a second send can only be the resumed tracker's
        try (RunningBroker broker = RunningBroker.start(dataDir, settings, Map.of("mas.ack.scan-interval-ms", "3600000"))) {
            // the sender's clock is two hours behind: its timestamp says nothing about when the broker got it
            String timestamp = Instant.now().minus(Duration.ofHours(2)).toString();
            assertThat(broker.postMessage(requiresAck(id, agent, ",\"timestamp\":\"" + timestamp + "\",\"ttl\":3600"))
                    .statusCode()).isEqualTo(202);
            Message first = broker.receiveOne("mas.agent." + agent);
            assertThat(first).isNotNull();
            acceptedAt = Instant.parse(DeliveryLedgerTest.status(broker, id).get("message").get("accepted_at").asText());
            assertThat(first.getJMSExpiration()).isBetween(acceptedAt.plusSeconds(3600 - 5).toEpochMilli(),
                    acceptedAt.plusSeconds(3600 + 5).toEpochMilli());
            assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsExactly("accepted", "queued");
        }
        try (RunningBroker again = RunningBroker.start(dataDir, settings, FAST_SCAN)) {
            Message second = again.receiveOne("mas.agent." + agent); // the resumed tracker's second send
            assertThat(second).as("the second send, by the resumed tracker").isNotNull();
            assertThat(second.getIntProperty("mas_attempts")).isEqualTo(2);
            assertThat(second.getJMSExpiration()).isBetween(acceptedAt.plusSeconds(3600 - 5).toEpochMilli(),
                    acceptedAt.plusSeconds(3600 + 5).toEpochMilli());
        }
    }

    @Test
    void aCopyWhoseMessageExpiredIsNotFollowedResentOrDeadLettered() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, SETTINGS, FAST_SCAN)) {
            String agent = Envelopes.uniqueAgent("slow");
            String id = "expires-" + agent;
            // ttl 2 s, ack_timeout 1 s: no acknowledgment, one resend, and the message expires before a second one
            assertThat(broker.postMessage(requiresAck(id, agent, ",\"ttl\":2")).statusCode()).isEqualTo(202);
            assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();

            await().untilAsserted(() -> assertThat(tracker(broker).tracked()).isZero());
            await().untilAsserted(() -> assertThat(recipientStatus(broker, id)).isEqualTo("expired"));
            JsonNode status = DeliveryLedgerTest.status(broker, id);
            assertThat(DeliveryLedgerTest.events(status)).as(status.toString()).doesNotContain("dead_lettered");
            assertThat(broker.depth("mas.dlq")).isZero();
        }
    }

    @Test
    void copiesOfAPurgedOrDeletedQueueAreNotLeftBehind() throws Exception {
        // ack_timeout 4 s: posting ten messages on a busy machine must not outlast the first copy's deadlines
        Map<String, String> settings = Map.of("MESSAGE_BROKER_ACK_TIMEOUT", "4", "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "1");
        try (RunningBroker broker = RunningBroker.start(dataDir, settings, FAST_SCAN)) {
            String purged = Envelopes.uniqueAgent("purged");
            String deleted = Envelopes.uniqueAgent("deleted");
            for (int i = 0; i < 5; i++) {
                assertThat(broker.postMessage(requiresAck("p-" + i + "-" + purged, purged, "")).statusCode()).isEqualTo(202);
                assertThat(broker.postMessage(requiresAck("d-" + i + "-" + deleted, deleted, "")).statusCode()).isEqualTo(202);
            }
            // a copy is followed once its steps are published, just after the 202
            await().untilAsserted(() -> assertThat(tracker(broker).tracked()).isEqualTo(10));

            HttpResponse<String> purge = broker.post("/api/queues/mas.agent." + purged + "/purge", RunningBroker.API_KEY,
                    "application/json", "");
            assertThat(purge.statusCode()).as(purge.body()).isEqualTo(200);
            HttpResponse<String> delete = broker.send(java.net.http.HttpRequest.newBuilder(
                    broker.uri("/api/queues/mas.agent." + deleted + "?force=true")).DELETE()
                    .header("X-API-Key", RunningBroker.API_KEY));
            assertThat(delete.statusCode()).as(delete.body()).isEqualTo(200);

            // each copy leaves within ack_timeout x (retry_count + 1) plus the back-off
            await().atMost(Duration.ofSeconds(40)).untilAsserted(() -> assertThat(tracker(broker).tracked()).isZero());
            for (int i = 0; i < 5; i++) {
                System.out.printf("purged queue, copy %d: %s%n", i, DeliveryLedgerTest.events(
                        DeliveryLedgerTest.status(broker, "p-" + i + "-" + purged)));
            }
            System.out.printf("deleted queue, copy 0: %s%n", DeliveryLedgerTest.events(
                    DeliveryLedgerTest.status(broker, "d-0-" + deleted)));
        }
    }
}
