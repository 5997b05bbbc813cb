package org.mas.broker.delivery;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * One bad value never wedges the ledger: ids that a database would count or store differently are refused at the
 * door, and a record the database still refuses is set aside (logged, counted, kept in db/set-aside.jsonl) while the
 * writer goes on with everything after it.
 */
class LedgerSafetyTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    private static final ObjectMapper JSON = new ObjectMapper();

    private static String envelopeWithId(String idJson, String agent) {
        return "{\"id\":" + idJson + ",\"from_agent\":\"planner\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"request\",\"payload\":{}}";
    }

    @Test
    void idsOutsideTheSafeCharacterSetAreRefusedAtTheDoor() throws Exception {
        String agent = Envelopes.uniqueAgent("door");
        String emoji = "\\ud83d\\ude00".repeat(100); // 100 code points: within the old maxLength, 200 UTF-16 units
        for (String id : new String[] {"\"" + emoji + "\"", "\"a\\u0000b\"", "\"trailing\\n\"", "\"with space\"",
                "\"" + "x".repeat(129) + "\"", "\"caf\\u00e9\""}) {
            var response = broker.postMessage(envelopeWithId(id, agent));
            assertThat(response.statusCode()).as(id).isEqualTo(400);
            assertThat(response.body()).contains("$.id");
        }
        var correlation = broker.postMessage("{\"from_agent\":\"planner\",\"to_agent\":\"" + agent + "\",\"message_type\":"
                + "\"response\",\"payload\":{},\"correlation_id\":\"" + "\\ud83d\\ude00".repeat(200) + "\"}");
        assertThat(correlation.statusCode()).isEqualTo(400);
        assertThat(correlation.body()).contains("$.correlation_id");
        assertThat(broker.depth("mas.agent." + agent)).isZero();
        // text that is not Unicode (a lone surrogate, escaped or as bytes that are not UTF-8) is refused too
        var surrogate = broker.postMessage("{\"from_agent\":\"planner\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"event\",\"payload\":{\"k\":\"\\ud800\"}}");
        assertThat(surrogate.statusCode()).isEqualTo(400);
        assertThat(surrogate.body()).contains("lone UTF-16 surrogate");
        // what is allowed still works, up to the length the column holds
        String longest = "id:_.-" + "a".repeat(122);
        assertThat(broker.postMessage(envelopeWithId("\"" + longest + "\"", agent)).statusCode()).isEqualTo(202);
        assertThat(DeliveryLedgerTest.status(broker, longest).get("recipients").get(0).get("status").asText()).isEqualTo("queued");
    }

    @Test
    void anAcknowledgmentByAnAgentWithTheLongestIdIsRecordedWithItsActor() throws Exception {
        // agent ids have up to 256 characters; the acknowledging agent is the event's actor (once VARCHAR(128))
        DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
        long setAsideBefore = ledger.setAsideCount();
        String agent = "long-" + "a".repeat(251);
        String id = "longest-actor-" + System.nanoTime();
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"request\",\"payload\":{},\"requires_ack\":true}").statusCode()).isEqualTo(202);
        var ack = broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");
        assertThat(ack.statusCode()).as(ack.body()).isEqualTo(200);
        await().untilAsserted(() -> {
            JsonNode status = DeliveryLedgerTest.status(broker, id);
            assertThat(status.get("recipients").get(0).get("status").asText()).as(status.toString()).isEqualTo("acked");
        });
        assertThat(ledger.setAsideCount()).as("nothing set aside").isEqualTo(setAsideBefore);
    }

    @Test
    void aRecordTheDatabaseRefusesIsSetAsideAndTheWriterGoesOn() throws Exception {
        DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
        long before = ledger.setAsideCount();
        // a step no path should produce any more: an id longer than the column (VARCHAR(128))
        String tooLong = "z".repeat(300);
        ledger.submit(new LedgerEvent(LedgerEvent.Kind.QUEUED, tooLong, "someone", 1, Instant.now(), null, null, false,
                null, null));
        String agent = Envelopes.uniqueAgent("after");
        String id = "after-bad-" + agent;
        assertThat(broker.postMessage(Envelopes.withId(id, "planner", agent)).statusCode()).isEqualTo(202);

        // the message behind the bad record is recorded, and the bad one is set aside once, not retried forever
        JsonNode status = DeliveryLedgerTest.status(broker, id);
        assertThat(status.get("recipients").get(0).get("status").asText()).isEqualTo("queued");
        assertThat(ledger.setAsideCount()).isEqualTo(before + 1);
        Path file = broker.dataDir().resolve("db/set-aside.jsonl");
        JsonNode kept = JSON.readTree(Files.readAllLines(file).get((int) before));
        assertThat(kept.get("message_id").asText()).isEqualTo(tooLong);
        assertThat(kept.get("step").asText()).isEqualTo("queued");
        assertThat(kept.get("error").asText()).isNotBlank();
        await().untilAsserted(() -> assertThat(broker.get("/observe/metrics", null).body())
                .containsPattern("mas_ledger_set_aside_total(\\{[^}]*})? " + (before + 1) + "\\.0"));
        assertThat(ledger.backlog()).isZero();
    }

    @Test
    void anExpiredMessageWithAForeignIdMovesOnUnrecorded() throws Exception {
        DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
        long before = ledger.setAsideCount();
        String agent = Envelopes.uniqueAgent("foreign");
        // anyone can send to an agent queue today: what expires there may carry a mas_id of 10,000 characters
        broker.sendText("mas.expired.ledger", "{}", Map.of("mas_id", "q".repeat(10_000), "_AMQ_ORIG_ADDRESS",
                "mas.agent." + "w".repeat(400)));
        assertThat(broker.receive("mas.expired", 1)).hasSize(1); // moved on
        String id = "after-foreign-" + agent;
        assertThat(broker.postMessage(Envelopes.withId(id, "planner", agent)).statusCode()).isEqualTo(202);
        assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText()).isEqualTo("queued");
        assertThat(ledger.setAsideCount()).isEqualTo(before);
    }

    @Test
    void twoExpiredMessagesWithOneDuplicateIdBothMoveOn() throws Exception {
        // two queues, one duplicate id each: what Artemis would refuse twice on mas.expired, in a transaction
        String first = Envelopes.uniqueAgent("exp-a");
        String second = Envelopes.uniqueAgent("exp-b");
        String marker = "twice-" + first;
        for (String agent : new String[] {first, second}) {
            try (var session = broker.session(); var producer = session.createProducer(session.createQueue("mas.agent." + agent))) {
                var message = session.createTextMessage(marker);
                message.setStringProperty("_AMQ_DUPL_ID", marker);
                message.setStringProperty("mas_id", marker);
                producer.setTimeToLive(1);
                producer.send(message);
            }
        }
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, marker)))
                .containsExactly("expired", "expired"));
        assertThat(broker.receive("mas.expired", 10).stream().filter(m -> {
            try {
                return marker.equals(m.getStringProperty("mas_id"));
            } catch (jakarta.jms.JMSException e) {
                return false;
            }
        }).count()).isEqualTo(2);
    }

    @Test
    void decimalsAreForwardedExactly() throws Exception {
        String agent = Envelopes.uniqueAgent("exact");
        assertThat(broker.postMessage("{\"from_agent\":\"planner\",\"to_agent\":\"" + agent + "\",\"message_type\":"
                + "\"event\",\"payload\":{\"price\":19.999999999999999999,\"big\":123456789012345678901234567890.5}}")
                .statusCode()).isEqualTo(202);
        String queued = ((jakarta.jms.TextMessage) broker.receiveOne("mas.agent." + agent)).getText();
        assertThat(queued).contains("\"price\":19.999999999999999999", "\"big\":123456789012345678901234567890.5");
    }
}
