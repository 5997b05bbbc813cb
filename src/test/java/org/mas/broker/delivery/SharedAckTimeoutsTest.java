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
 * Acknowledgment deadlines in the shared ledger that pass: with two routers on one broker and one PostgreSQL, both
 * scanning every 100 ms so that they compete for every due copy, each unacknowledged copy is resent retry_count (2)
 * times and dead-lettered once, by exactly one of them; a router that is gone leaves its copies to the other.
 */
class SharedAckTimeoutsTest {

    private static final Map<String, String> FAST_SCAN = Map.of("mas.ack.scan-interval-ms", "100");

    @TempDir
    static Path dir;

    static RouterPair routers;

    @BeforeAll
    static void start() throws Exception {
        routers = RouterPair.start(dir, Map.of(
                "MESSAGE_BROKER_ACK_TIMEOUT", "1",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "2",
                "MESSAGE_BROKER_REDELIVERY_INITIAL_DELAY_MS", "200",
                "MESSAGE_BROKER_REDELIVERY_MAX_DELAY_MS", "400"), FAST_SCAN);
    }

    @AfterAll
    static void stop() throws Exception {
        if (routers != null) {
            routers.close();
        }
    }

    private static void send(RunningBroker router, String id, String agent) throws Exception {
        HttpResponse<String> response = router.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\""
                + agent + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    }

    private static String recipientStatus(RunningBroker router, String id) throws Exception {
        return DeliveryLedgerTest.status(router, id).get("recipients").get(0).get("status").asText();
    }

    private static List<String> events(RunningBroker router, String id) throws Exception {
        return DeliveryLedgerTest.events(DeliveryLedgerTest.status(router, id));
    }

    /** Both routers compete for every due copy: without the row locks some step would be taken twice. */
    @Test
    void everyUnacknowledgedCopyIsResentRetryCountTimesAndDeadLetteredOnceByOneRouter() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-late");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            String id = "shared-late-" + i + "-" + agent;
            send(routers.router(1 + i % 2), id, agent);
            ids.add(id);
        }
        for (String id : ids) {
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(recipientStatus(routers.router(2), id)).isEqualTo("dead_lettered"));
        }
        List<String> sends = new ArrayList<>();
        for (Message copy : routers.router(1).receiveExactly("mas.agent." + agent, 90)) {
            Object attempt = copy.getObjectProperty(MasNames.HEADER_ATTEMPTS); // absent on the first send
            sends.add(copy.getStringProperty(MasNames.HEADER_ID) + "#" + (attempt == null ? 1 : attempt));
        }
        List<String> expected = new ArrayList<>();
        for (String id : ids) {
            for (int attempt = 1; attempt <= 3; attempt++) {
                expected.add(id + "#" + attempt);
            }
            List<String> events = events(routers.router(1), id);
            assertThat(events).as(id).containsExactly("accepted", "queued", "retrying", "queued", "retrying", "queued",
                    "dead_lettered");
        }
        assertThat(sends).containsExactlyInAnyOrderElementsOf(expected);
        List<String> deadLetters = new ArrayList<>();
        for (Message letter : routers.router(1).receive("mas.dlq", 100, Duration.ofSeconds(2))) {
            String id = letter.getStringProperty(MasNames.HEADER_ID);
            if (id.endsWith(agent)) { // mas.dlq is shared with the other tests
                deadLetters.add(id);
            }
        }
        Collections.sort(deadLetters);
        Collections.sort(ids);
        assertThat(deadLetters).containsExactlyElementsOf(ids);
    }


    @Test
    void theOtherRouterResendsAndDeadLettersTheCopiesOfARouterThatIsGone() throws Exception {
        String agent = Envelopes.uniqueAgent("shared-orphan");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            String id = "shared-orphan-" + i + "-" + agent;
            send(routers.router(1), id, agent);
            ids.add(id);
        }
        routers.stop(1); // before any deadline (1 s): its in-memory state, if it kept one, would be gone
        try {
            for (String id : ids) {
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(recipientStatus(routers.router(2), id)).isEqualTo("dead_lettered"));
                assertThat(events(routers.router(2), id)).as(id).containsExactly("accepted", "queued", "retrying", "queued",
                        "retrying", "queued", "dead_lettered");
            }
            assertThat(routers.router(2).receiveExactly("mas.agent." + agent, 15)).hasSize(15);
        } finally {
            routers.restart(1);
        }
    }

}
