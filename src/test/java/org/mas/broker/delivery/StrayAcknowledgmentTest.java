package org.mas.broker.delivery;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.core.settings.impl.AddressFullMessagePolicy;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Acknowledgments for unknown ids must not hold up the valid ones (issue 9, case 3). ack_timeout is the default 60 s,
 * so a valid acknowledgment that comes late shows as latency here, not as a redelivery.
 */
class StrayAcknowledgmentTest {

    private static final int STRAYS = 1_000;

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    /** When the ledger was handed each "acked" step, by message id (System.nanoTime()). */
    private static final Map<String, Long> ACKED_AT = new ConcurrentHashMap<>();
    private static volatile boolean listening;

    private static void listen() {
        if (!listening) {
            listening = true;
            broker.context().getRegistry().lookupByNameAndType("deliverySteps", org.mas.broker.delivery.ledger.DeliverySteps.class)
                    .subscribe(e -> {
                        if (e.kind() == LedgerEvent.Kind.ACKED) {
                            ACKED_AT.putIfAbsent(e.messageId(), System.nanoTime());
                        }
                    });
        }
    }

    private static Acknowledgments acks() {
        return broker.context().getRegistry().lookupByNameAndType("acks", Acknowledgments.class);
    }

    /** A requires_ack message to a new agent, its copy taken from the agent's queue: it waits for its ack. */
    private static String deliveredCopy(String id, String agent) throws Exception {
        HttpResponse<String> response = broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\""
                + agent + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0)
                .get("status").asText()).isEqualTo("queued"));
        return id;
    }

    private static String ack(String id, String agent, String status) {
        return "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"" + status + "\"}";
    }

    @Test
    void aValidAckOnTheQueueIsAppliedAtOnceAfterAThousandStrays() throws Exception {
        listen();
        String agent = Envelopes.uniqueAgent("worker");
        String id = deliveredCopy("valid-after-strays-" + agent, agent);
        long refusedBefore = acks().refusedCount();

        long straysSent = System.nanoTime();
        long sent;
        // sent as fast as a careless agent can (no wait for the broker per send): the strays pile up on mas.acks
        try (var factory = new org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory("tcp://127.0.0.1:"
                + broker.brokerPort() + "?blockOnDurableSend=false");
             jakarta.jms.Connection connection = factory.createConnection();
             Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
             MessageProducer producer = session.createProducer(session.createQueue("mas.acks"))) {
            for (int i = 0; i < STRAYS; i++) {
                producer.send(session.createTextMessage(ack("stray-" + agent + "-" + i, agent, "processed")));
            }
            // right behind the strays, as an agent would send it: whatever of them is still queued is ahead of it
            sent = System.nanoTime();
            producer.send(session.createTextMessage(ack(id, agent, "processed")));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> ACKED_AT.containsKey(id));
        long latencyMs = (ACKED_AT.get(id) - sent) / 1_000_000;
        long straysConsumedMs = (System.nanoTime() - straysSent) / 1_000_000;

        System.out.printf("mas.acks: %d strays sent and handled in %d ms; the valid ack right behind them applied %d ms after its send%n",
                STRAYS, straysConsumedMs, latencyMs);
        assertThat(latencyMs).as("send -> acked of the valid acknowledgment, ms").isLessThan(1_000);
        assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText()).isEqualTo("acked");
        // and every stray is refused, logged and counted
        await().untilAsserted(() -> assertThat(acks().refusedCount()).isEqualTo(refusedBefore + STRAYS));
    }

    @Test
    void strayRestAcksAre404AtOnceAndAValidOneAfterThemIs200() throws Exception {
        listen();
        String agent = Envelopes.uniqueAgent("worker");
        String id = deliveredCopy("valid-rest-after-strays-" + agent, agent);

        long slowest = 0;
        for (int i = 0; i < STRAYS; i++) {
            long start = System.nanoTime();
            HttpResponse<String> stray = broker.post("/api/messages/stray-rest-" + agent + "-" + i + "/ack",
                    RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");
            long ms = (System.nanoTime() - start) / 1_000_000;
            slowest = Math.max(slowest, ms);
            assertThat(stray.statusCode()).isEqualTo(404);
            assertThat(ms).as("answer to stray REST ack %d, ms", i).isLessThan(1_000);
        }

        long sent = System.nanoTime();
        HttpResponse<String> valid = broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");
        long answeredMs = (System.nanoTime() - sent) / 1_000_000;
        long latencyMs = (ACKED_AT.get(id) - sent) / 1_000_000;

        System.out.printf("REST: %d stray acks answered 404, slowest %d ms; the valid ack after them 200 in %d ms "
                + "(acked %d ms after its send)%n", STRAYS, slowest, answeredMs, latencyMs);
        assertThat(valid.statusCode()).isEqualTo(200);
        assertThat(latencyMs).as("send -> acked of the valid acknowledgment, ms").isLessThan(1_000);
        assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText()).isEqualTo("acked");
    }

    @Test
    void anAckThatComesBeforeItsCopyIsRecordedIsHeldAndApplied() throws Exception {
        // the JMS ingress records a copy only after its batch commits: an agent can answer first. Here the
        // acknowledgment even comes before the message is sent.
        String agent = Envelopes.uniqueAgent("quick");
        String id = "early-" + agent;
        broker.sendText("mas.acks", ack(id, agent, "processed"), Map.of());
        await().until(() -> broker.depth("mas.acks") == 0);
        broker.sendText("mas.inbound", "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}", Map.of());

        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0)
                .get("status").asText()).isEqualTo("acked"));
    }
    @Test
    void aDeadLetterSendThatHangsHoldsUpNoOtherCopysAck() throws Exception {
        listen();
        String picky = Envelopes.uniqueAgent("picky");
        String rejected = deliveredCopy("hang-rejected-" + picky, picky);
        String worker = Envelopes.uniqueAgent("worker");
        String processed = deliveredCopy("hang-processed-" + worker, worker);
        String other = Envelopes.uniqueAgent("other");
        String processedOnQueue = deliveredCopy("hang-processed-queue-" + other, other);

        // mas.dlq full, and full means BLOCK: the dead-letter send of the rejected copy waits until it has room
        var repository = broker.artemis().getAddressSettingsRepository();
        AddressSettings original = repository.getMatch("mas.dlq");
        repository.addMatch("mas.dlq", new AddressSettings(original).setMaxSizeBytes(1)
                .setAddressFullMessagePolicy(AddressFullMessagePolicy.BLOCK));
        broker.sendText("mas.dlq", "x".repeat(1_000), Map.of("mas_id", "filler-" + picky));
        Thread rejecting = new Thread(() -> {
            try {
                broker.post("/api/messages/" + rejected + "/ack", RunningBroker.API_KEY, "application/json",
                        "{\"agent\":\"" + picky + "\",\"status\":\"rejected\"}");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            rejecting.start();
            await().until(StrayAcknowledgmentTest::aDeadLetterSendIsWaiting);

            long sent = System.nanoTime();
            HttpResponse<String> ok = broker.post("/api/messages/" + processed + "/ack", RunningBroker.API_KEY,
                    "application/json", "{\"agent\":\"" + worker + "\",\"status\":\"processed\"}");
            long restMs = (System.nanoTime() - sent) / 1_000_000;
            assertThat(ok.statusCode()).isEqualTo(200);
            sent = System.nanoTime();
            broker.sendText("mas.acks", ack(processedOnQueue, other, "processed"), Map.of());
            await().atMost(Duration.ofSeconds(10)).until(() -> ACKED_AT.containsKey(processedOnQueue));
            long queueMs = (ACKED_AT.get(processedOnQueue) - sent) / 1_000_000;
            System.out.printf("while a dead-letter send hangs: another copy's REST ack %d ms, mas.acks ack %d ms%n",
                    restMs, queueMs);
            assertThat(restMs).isLessThan(1_000);
            assertThat(queueMs).isLessThan(1_000);
            assertThat(aDeadLetterSendIsWaiting()).as("the rejected copy's send still waits").isTrue();
        } finally {
            broker.receiveOne("mas.dlq"); // the filler: room again, the waiting send goes through
            repository.addMatch("mas.dlq", original);
            rejecting.join(30_000);
        }
        assertThat(broker.deadLetter(rejected).getStringProperty("mas_error")).isEqualTo("rejected by " + picky);
        assertThat(DeliveryLedgerTest.status(broker, rejected).get("recipients").get(0).get("status").asText())
                .isEqualTo("dead_lettered");
    }

    private static boolean aDeadLetterSendIsWaiting() {
        return Thread.getAllStackTraces().values().stream().anyMatch(stack -> java.util.Arrays.stream(stack)
                .anyMatch(frame -> frame.getClassName().equals(AckTracker.class.getName())
                        && frame.getMethodName().equals("sendDeadLetter")));
    }
}
