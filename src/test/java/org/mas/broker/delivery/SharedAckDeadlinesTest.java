package org.mas.broker.delivery;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import jakarta.jms.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.MasNames;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RouterPair;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Acknowledgment deadlines in the shared ledger (cluster.enabled), with two routers on one broker and one PostgreSQL:
 * either router takes an acknowledgment for any copy, and each copy whose deadline passed is resent, then
 * dead-lettered, by exactly one of them (SharedAckTimeoutsTest). The rules are those of the single-node tracker
 * (AcknowledgmentTest).
 */
class SharedAckDeadlinesTest {

    private static final Map<String, String> FAST_SCAN = Map.of("mas.ack.scan-interval-ms", "100");

    @TempDir
    static Path dir;

    static RouterPair routers;

    @BeforeAll
    static void start() throws Exception {
        routers = RouterPair.start(dir, Map.of(
                "MESSAGE_BROKER_ACK_TIMEOUT", "30", // acknowledgments here are never late, however busy the machine
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "2",
                "MESSAGE_BROKER_REDELIVERY_INITIAL_DELAY_MS", "200",
                "MESSAGE_BROKER_REDELIVERY_MAX_DELAY_MS", "400",
                "MESSAGE_BROKER_AGENTS", "[{\"id\":\"shared-summarizer\",\"capabilities\":[\"shared-summaries\"]}]"),
                FAST_SCAN);
    }

    @AfterAll
    static void stop() throws Exception {
        if (routers != null) {
            routers.close();
        }
    }

    private static void send(RunningBroker router, String id, String to, boolean requiresAck) throws Exception {
        HttpResponse<String> response = router.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\"," + to
                + ",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":" + requiresAck + "}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    }

    private static HttpResponse<String> ack(RunningBroker router, String id, String agent, String status) throws Exception {
        return router.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"" + status + "\"}");
    }

    private static JsonNode status(RunningBroker router, String id) throws Exception {
        return DeliveryLedgerTest.status(router, id);
    }

    private static String recipientStatus(RunningBroker router, String id) throws Exception {
        return status(router, id).get("recipients").get(0).get("status").asText();
    }

    private static List<String> events(RunningBroker router, String id) throws Exception {
        return DeliveryLedgerTest.events(status(router, id));
    }

    @Test
    void aCopyRoutedByOneRouterIsAcknowledgedThroughTheOther() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-ack");
        String id = "shared-ack-" + agent;
        send(routers.router(1), id, "\"to_agent\":\"" + agent + "\"", true);
        assertThat(routers.router(1).receiveOne("mas.agent." + agent)).isNotNull();

        HttpResponse<String> acked = ack(routers.router(2), id, agent, "processed");
        assertThat(acked.statusCode()).as(acked.body()).isEqualTo(200);
        assertThat(acked.body()).contains("\"status\":\"acked\"");
        assertThat(ack(routers.router(1), id, agent, "processed").body()).contains("\"status\":\"acked\"");

        // never sent again: the copy's row is acknowledged, so no router's scan claims it
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(20))
                .until(() -> routers.router(1).depth("mas.agent." + agent) == 0);
        assertThat(events(routers.router(1), id)).containsExactly("accepted", "queued", "acked");
        assertThat(status(routers.router(1), id).get("timeline").get(2).get("actor").asText()).isEqualTo(agent);
    }

    @Test
    void anAcknowledgmentOnMasAcksAppliesWhicheverRouterTakesIt() throws Exception {
        List<String> ids = new ArrayList<>();
        String agent = Envelopes.uniqueAgent("shared-jms");
        for (int i = 0; i < 10; i++) {
            String id = "shared-jms-" + i + "-" + agent;
            send(routers.router(1 + i % 2), id, "\"to_agent\":\"" + agent + "\"", true);
            ids.add(id);
        }
        assertThat(routers.router(1).receive("mas.agent." + agent, 10)).hasSize(10);
        for (String id : ids) {
            routers.router(2).sendText("mas.acks", "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"processed\"}",
                    Map.of());
        }
        for (String id : ids) {
            await().untilAsserted(() -> assertThat(recipientStatus(routers.router(2), id)).isEqualTo("acked"));
        }
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(20))
                .until(() -> routers.router(1).depth("mas.agent." + agent) == 0);
        for (String id : ids) {
            assertThat(events(routers.router(1), id)).containsExactly("accepted", "queued", "acked");
        }
    }

    @Test
    void rejectedAndFailedAcknowledgmentsOnTheOtherRouter() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-nack");
        String rejected = "shared-rejected-" + agent;
        String failed = "shared-failed-" + agent;
        send(routers.router(1), rejected, "\"to_agent\":\"" + agent + "\"", true);
        send(routers.router(1), failed, "\"to_agent\":\"" + agent + "\"", true);
        assertThat(routers.router(1).receive("mas.agent." + agent, 2)).hasSize(2);

        assertThat(ack(routers.router(2), rejected, agent, "rejected").body()).contains("\"status\":\"dead_lettered\"");
        assertThat(routers.router(2).deadLetter(rejected).getStringProperty(MasNames.HEADER_ERROR)).contains("rejected by " + agent);
        assertThat(ack(routers.router(2), failed, agent, "failed").body()).contains("\"status\":\"retrying\"");
        assertThat(ack(routers.router(1), failed, agent, "failed").body()).contains("\"status\":\"retrying\"");
        Message again = routers.router(1).receiveOne("mas.agent." + agent);
        assertThat(again.getStringProperty(MasNames.HEADER_ID)).isEqualTo(failed);
        assertThat(again.getIntProperty(MasNames.HEADER_ATTEMPTS)).isEqualTo(2);
        assertThat(ack(routers.router(1), failed, agent, "processed").body()).contains("\"status\":\"acked\"");
        assertThat(events(routers.router(2), rejected)).containsExactly("accepted", "queued", "rejected", "dead_lettered");
        assertThat(events(routers.router(2), failed)).containsExactly("accepted", "queued", "failed", "retrying", "queued",
                "acked");
    }

    @Test
    void unknownMessagesAndStrangersAreAnsweredAsOnOneRouter() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-known");
        String id = "shared-known-" + agent;
        send(routers.router(1), id, "\"to_agent\":\"" + agent + "\"", true);
        assertThat(ack(routers.router(2), "shared-never-sent-" + agent, agent, "processed").statusCode()).isEqualTo(404);
        assertThat(ack(routers.router(2), id, "someone-else", "processed").statusCode()).isEqualTo(409);
        assertThat(ack(routers.router(2), id, "capability:shared-summaries", "processed").statusCode()).isEqualTo(409);
        assertThat(ack(routers.router(2), id, agent, "processed").statusCode()).isEqualTo(200);
    }

    @Test
    void aCapabilityCopyIsAcknowledgedByTheAgentThatTookIt() throws Exception {
        String id = "shared-capability-" + Envelopes.uniqueAgent("c");
        send(routers.router(1), id, "\"to_capability\":\"shared-summaries\"", true);
        assertThat(routers.router(2).receiveOne("mas.capability.shared-summaries")).isNotNull();
        HttpResponse<String> acked = ack(routers.router(2), id, "shared-summarizer", "processed");
        assertThat(acked.statusCode()).as(acked.body()).isEqualTo(200);
        JsonNode status = status(routers.router(1), id);
        assertThat(status.get("recipients").get(0).get("agent").asText()).isEqualTo("capability:shared-summaries");
        assertThat(status.get("recipients").get(0).get("status").asText()).isEqualTo("acked");
    }

    /**
     * A first copy's row is written ahead; another router, whose clock is behind, acknowledges it; then the routing
     * router's own "queued" step reaches its writer. The acknowledgment stands, and the copy is not sent again.
     */
    @Test
    void aLateQueuedStepFromTheRoutingRouterNeverUndoesAnAcknowledgment() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-late-step");
        String id = "shared-late-step-" + agent;
        org.mas.broker.delivery.ledger.DeliveryLedger ledger = routers.router(1).context().getRegistry()
                .lookupByNameAndType("deliveryLedger", org.mas.broker.delivery.ledger.DeliveryLedger.class);
        java.time.Instant ahead = java.time.Instant.now().plusMillis(200); // router 1's clock runs 200 ms ahead
        String envelope = "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}";
        var message = new org.mas.broker.delivery.ledger.LedgerEvent.AcceptedMessage("boss", "command", 5, true, null,
                "rest", envelope, 0, ahead);
        var accepted = new org.mas.broker.delivery.ledger.LedgerEvent(
                org.mas.broker.delivery.ledger.LedgerEvent.Kind.ACCEPTED, id, null, 0, ahead, null, null, true, null, message);
        var queued = new org.mas.broker.delivery.ledger.LedgerEvent(
                org.mas.broker.delivery.ledger.LedgerEvent.Kind.QUEUED, id, agent, 1, ahead, null, null, true,
                ahead.plusSeconds(1), message);
        assertThat(ledger.writeAhead(List.of(accepted, queued))).isTrue();

        HttpResponse<String> acked = ack(routers.router(2), id, agent, "processed");
        assertThat(acked.body()).contains("\"status\":\"acked\"");
        ledger.submit(accepted);
        ledger.submit(queued);
        assertThat(ledger.flush(Duration.ofSeconds(10))).isTrue();

        // past the deadline (1 s) and the back-offs: still acknowledged, nothing sent
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(recipientStatus(routers.router(2), id)).isEqualTo("acked");
            assertThat(routers.router(1).depth("mas.agent." + agent)).isZero();
        });
    }
}
