package org.mas.broker.ingress;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.builder.AdviceWith;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.MasNames;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A batch of jms-batch with one failing message in it: ten envelopes arrive on mas.inbound together and are consumed
 * by one consumer thread; the seventh is addressed to an agent whose queue refuses every send (a full address, policy
 * FAIL, as a real broker refuses it), so its copy cannot join the batch's transaction and marks it rollback-only. The
 * whole batch (the seven taken so far) rolls back, every message of it is redelivered, each message then has a
 * transaction of its own, the nine good ones reach their agent exactly once, and the failing one is retried by Camel
 * (retry_count = 3) and parked on mas.dlq with mas_attempts 4 (docs/failure-handling.md).
 * <p>
 * One consumer thread, so that the ten messages are one batch; the injector records which transaction (the batch's
 * after-commit hand-over, one per transaction) processed each delivery.
 */
@Timeout(180)
class BatchRollbackTest {

    private static final String TEST_ID = "batchTestId";
    private static final int MESSAGES = 10;
    private static final int FAILING = 6;
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(
            Map.of("MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "3"),
            Map.of("mas.ingress.jms.concurrent-consumers", "1", "mas.ingress.jms.max-batch-size", "100"));

    record Delivery(String id, Object transaction, boolean redelivered, int deliveryCount, long healthyDepth) {
    }

    static final List<Delivery> DELIVERIES = new CopyOnWriteArrayList<>();
    static volatile String healthyQueue = "none";

    @BeforeAll
    static void inject() throws Exception {
        AdviceWith.adviceWith(broker.context(), "ingress-jms", route -> route.weaveAddFirst().process(exchange -> {
            Message jms = exchange.getIn().getBody(Message.class);
            String id = jms.getStringProperty(TEST_ID);
            if (id == null) {
                return;
            }
            if (DELIVERIES.isEmpty()) {
                // the first message of the batch: let the broker hand the consumer's buffer all ten, so that they are
                // one batch (best effort: a consumer without a buffer, window 0, takes them from the broker anyway)
                try {
                    await().atMost(Duration.ofSeconds(5)).until(() ->
                            broker.artemis().locateQueue(SimpleString.of("mas.inbound")).getDeliveringCount() >= MESSAGES);
                } catch (org.awaitility.core.ConditionTimeoutException e) {
                    // go on: the assertions say what the batch was
                }
            }
            DELIVERIES.add(new Delivery(id, exchange.getProperty(MasNames.PROPERTY_AFTER_COMMIT), jms.getJMSRedelivered(),
                    jms.getIntProperty("JMSXDeliveryCount"), broker.depth(healthyQueue)));
        }));
    }

    @Test
    void oneFailingMessageRollsBackItsBatchThenEachMessageIsRetriedAloneAndNothingIsLostOrDuplicated() throws Exception {
        String healthy = Envelopes.uniqueAgent("healthy");
        String broken = broker.fullAgentQueue();
        healthyQueue = "mas.agent." + healthy;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < MESSAGES; i++) {
            ids.add("batch-" + i + "-" + healthy);
        }
        String failingId = ids.get(FAILING);
        long dlqBefore = broker.depth("mas.dlq");

        // all ten on mas.inbound at once: one transacted send
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort());
             Connection connection = factory.createConnection()) {
            Session session = connection.createSession(true, Session.SESSION_TRANSACTED);
            MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"));
            for (int i = 0; i < MESSAGES; i++) {
                Message message = session.createTextMessage(Envelopes.withId(ids.get(i), "loader", i == FAILING ? broken : healthy));
                message.setStringProperty(TEST_ID, ids.get(i));
                producer.send(message);
            }
            session.commit();
        }

        Message dead = broker.deadLetter(failingId);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());

        // 1. the first transaction: the messages up to the failing one, none of them redelivered; the failing send
        //    marks it rollback-only, so the messages behind it are not taken into it
        Object rolledBack = DELIVERIES.get(0).transaction();
        List<Delivery> first = DELIVERIES.stream().filter(d -> d.transaction() == rolledBack).toList();
        assertThat(first).extracting(Delivery::id).containsExactlyElementsOf(ids.subList(0, FAILING + 1));
        assertThat(first).extracting(Delivery::redelivered).containsOnly(false);

        // 2. the whole batch rolled back: every message of it came again, redelivered, with nothing of it left on the
        //    agent queue; the messages behind it came once each
        List<Delivery> again = DELIVERIES.subList(first.size(), DELIVERIES.size());
        assertThat(again).extracting(Delivery::id).containsExactlyInAnyOrderElementsOf(ids);
        assertThat(again.stream().filter(d -> ids.indexOf(d.id()) <= FAILING))
                .allSatisfy(d -> assertThat(d.redelivered()).as(d.id()).isTrue())
                .allSatisfy(d -> assertThat(d.deliveryCount()).as(d.id()).isEqualTo(2));
        assertThat(again.get(0).healthyDepth()).as("agent queue when the redelivery began").isZero();

        // 3. each redelivery in a transaction of its own
        Map<Object, Integer> perTransaction = new IdentityHashMap<>();
        again.forEach(d -> perTransaction.merge(d.transaction(), 1, Integer::sum));
        assertThat(perTransaction).as("transactions of the redeliveries").hasSize(MESSAGES);
        assertThat(perTransaction.values()).containsOnly(1);

        // 4. the nine good ones on their agent's queue, each exactly once
        Map<String, Integer> seen = new HashMap<>();
        for (Message m : broker.receive("mas.agent." + healthy, 50)) {
            seen.merge(m.getStringProperty("mas_id"), 1, Integer::sum);
        }
        List<String> good = new ArrayList<>(ids);
        good.remove(failingId);
        assertThat(seen).containsOnlyKeys(good);
        assertThat(seen.values()).as("copies per id").containsOnly(1);
        assertThat(broker.depth("mas.agent." + broken)).as("only the filler").isEqualTo(1);

        // 5. the failing one: retried by Camel, then dead-lettered with the documented figures, once
        assertThat(dead.getStringProperty("mas_target")).isEqualTo("mas.agent." + broken);
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(4);
        assertThat(dead.getStringProperty("mas_error")).contains("full");
        assertThat(broker.depth("mas.dlq")).as("no second dead letter").isEqualTo(dlqBefore);

        // 6. the ledger: the rolled-back attempt recorded nothing
        for (String id : good) {
            JsonNode status = status(id);
            assertThat(events(status)).as(id).containsExactly("accepted", "queued");
        }
        JsonNode failed = status(failingId);
        assertThat(failed.get("recipients").get(0).get("status").asText()).isEqualTo("dead_lettered");
        assertThat(events(failed)).containsOnlyOnce("accepted").contains("retrying", "dead_lettered").doesNotContain("queued");
        System.out.printf("batch rollback: %d messages in the rolled-back transaction; then %d deliveries in %d transactions; "
                + "%d copies on %s; dead letter after %d attempts%n", first.size(), again.size(), perTransaction.size(),
                seen.size(), healthy, dead.getIntProperty("mas_attempts"));
    }

    private static JsonNode status(String id) throws Exception {
        var response = broker.get("/api/messages/" + id, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static List<String> events(JsonNode status) {
        List<String> events = new ArrayList<>();
        status.get("timeline").forEach(step -> events.add(step.get("event").asText()));
        return events;
    }
}
