package org.mas.broker.delivery;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * requires_ack messages with retry_count = 2. The tests that acknowledge have ack_timeout = 5 s, so that a busy machine
 * never turns a prompt acknowledgment into a late one; the one that waits for the timeouts has its own broker with
 * ack_timeout = 1 s, and asserts nothing that depends on how fast the machine is.
 */
class AcknowledgmentTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);
    private static final Map<String, String> FAST_SCAN = Map.of("mas.ack.scan-interval-ms", "100");

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of(
            "MESSAGE_BROKER_ACK_TIMEOUT", String.valueOf(ACK_TIMEOUT.toSeconds()),
            "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "2"), FAST_SCAN);

    @TempDir
    Path dataDir;

    private static String send(String id, String agent) throws Exception {
        return send(broker, id, agent);
    }

    private static String send(RunningBroker broker, String id, String agent) throws Exception {
        HttpResponse<String> response = broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\""
                + agent + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");
        assertThat(response.statusCode()).isEqualTo(202);
        return id;
    }

    private static HttpResponse<String> ackByRest(String id, String body) throws Exception {
        return broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json", body);
    }

    private static String recipientStatus(String id) throws Exception {
        return recipientStatus(broker, id);
    }

    private static String recipientStatus(RunningBroker broker, String id) throws Exception {
        return DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText();
    }

    @Test
    void aProcessedAckOverJmsCompletesTheCopy() throws Exception {
        String agent = Envelopes.uniqueAgent("worker");
        String id = send("ack-jms-" + agent, agent);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();

        broker.sendText("mas.acks", "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"processed\"}", Map.of());

        await().untilAsserted(() -> assertThat(recipientStatus(id)).isEqualTo("acked"));
        // no redelivery after ack_timeout (counted from the send, which came before this wait)
        await().during(ACK_TIMEOUT.plusMillis(1500)).atMost(ACK_TIMEOUT.plusSeconds(15))
                .untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isZero());
        assertThat(recipientStatus(id)).isEqualTo("acked");
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsExactly("accepted", "queued", "acked");
    }

    @Test
    void restAcksAreIdempotentAndRefuseStrangers() throws Exception {
        String agent = Envelopes.uniqueAgent("worker");
        String id = send("ack-rest-" + agent, agent);

        HttpResponse<String> first = ackByRest(id, "{\"agent\":\"" + agent + "\",\"status\":\"processed\",\"detail\":\"done\"}");
        HttpResponse<String> again = ackByRest(id, "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(first.body()).get("status").asText()).isEqualTo("acked");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(again.body()).get("status").asText()).isEqualTo("acked");
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsOnlyOnce("acked");
        assertThat(ackByRest(id, "{\"agent\":\"someone-else\",\"status\":\"processed\"}").statusCode()).isEqualTo(409);
        assertThat(ackByRest("no-such-message", "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(404);
        HttpResponse<String> bad = ackByRest(id, "{\"agent\":\"" + agent + "\",\"status\":\"maybe\"}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).get("details").toString()).contains("$.status");
        assertThat(broker.post("/api/messages/" + id + "/ack", null, "application/json", "{}").statusCode()).isEqualTo(401);
    }

    /** ack_timeout = 1 s here: the agent never answers, so how late anything happens changes no assertion. */
    @Test
    void noAckIsRedeliveredRetryCountTimesThenDeadLettered() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_ACK_TIMEOUT", "1",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "2"), FAST_SCAN)) {
            String agent = Envelopes.uniqueAgent("silent");
            String id = send(broker, "ack-timeout-" + agent, agent);

            Message dead = broker.deadLetter(id);
            assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(3);
            assertThat(dead.getStringProperty("mas_error")).isEqualTo("no acknowledgment within 1 s");
            assertThat(dead.getStringProperty("mas_target")).isEqualTo("mas.agent." + agent);
            JsonNode status = DeliveryLedgerTest.status(broker, id);
            assertThat(status.get("recipients").get(0).get("status").asText()).isEqualTo("dead_lettered");
            assertThat(DeliveryLedgerTest.events(status)).containsExactly("accepted", "queued", "retrying", "queued",
                    "retrying", "queued", "dead_lettered");
            // dead-lettered: the tracker sends nothing more, so the three sends are all there will be
            List<Message> copies = broker.receiveExactly("mas.agent." + agent, 3);
            assertThat(copies).allSatisfy(m -> assertThat(m.getStringProperty("mas_id")).isEqualTo(id));
            // the first send carries no mas_attempts; the tracker's resends say which send they are
            assertThat(copies).extracting(m -> m.getObjectProperty("mas_attempts")).containsExactlyInAnyOrder(null, 2, 3);
        }
    }

    @Test
    void aFailedAckIsRedeliveredAndALaterProcessedAckCompletesIt() throws Exception {
        String agent = Envelopes.uniqueAgent("flaky");
        String id = send("ack-failed-" + agent, agent);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();

        assertThat(ackByRest(id, "{\"agent\":\"" + agent + "\",\"status\":\"failed\",\"detail\":\"disk full\"}").statusCode())
                .isEqualTo(200);
        Message second = broker.receiveOne("mas.agent." + agent);
        assertThat(second).isNotNull();
        assertThat(second.getIntProperty("mas_attempts")).isEqualTo(2);
        assertThat(ackByRest(id, "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);

        assertThat(recipientStatus(id)).isEqualTo("acked");
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id)))
                .containsExactly("accepted", "queued", "failed", "retrying", "queued", "acked");
    }

    @Test
    void aRejectedAckDeadLettersAtOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("picky");
        String id = send("ack-rejected-" + agent, agent);

        broker.sendText("mas.acks", "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"rejected\","
                + "\"detail\":\"not my job\"}", Map.of());

        Message dead = broker.deadLetter(id);
        assertThat(dead.getStringProperty("mas_error")).isEqualTo("rejected by " + agent + ": not my job");
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(1);
        assertThat(recipientStatus(id)).isEqualTo("dead_lettered");
    }

    @Test
    void badAcksOnTheQueueAreCountedAndDoNotStopTheOthers() throws Exception {
        Acknowledgments acks = broker.context().getRegistry().lookupByNameAndType("acks", Acknowledgments.class);
        long before = acks.refusedCount();
        broker.sendText("mas.acks", "not json at all", Map.of());
        broker.sendText("mas.acks", "{\"id\":\"nobody-knows\",\"agent\":\"x\",\"status\":\"processed\"}", Map.of());
        await().untilAsserted(() -> assertThat(acks.refusedCount()).isEqualTo(before + 2));

        String agent = Envelopes.uniqueAgent("after");
        String id = send("ack-after-" + agent, agent);
        broker.sendText("mas.acks", "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"processed\"}", Map.of());
        await().untilAsserted(() -> assertThat(recipientStatus(id)).isEqualTo("acked"));
        assertThat(broker.depth("mas.acks")).isZero();
    }

}
