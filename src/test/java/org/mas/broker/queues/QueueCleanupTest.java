package org.mas.broker.queues;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.camel.builder.NotifyBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Clean-up every cleanup_interval (1 s here): idle agent queues go (after 3 s idle), expired messages are cleared. */
class QueueCleanupTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    // the broker's own expiry scan is off, so only the clean-up can clear expired messages
    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(
            Map.of("MESSAGE_BROKER_CLEANUP_INTERVAL", "1", "MESSAGE_BROKER_IDLE_QUEUE_TIMEOUT", "3"),
            Map.of("mas.embedded-broker.expiry-scan-period-ms", "-1"));

    private static void createQueue(String agent) throws Exception {
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + agent + "\"}")
                .statusCode()).isEqualTo(201);
    }

    @Test
    void anIdleAgentQueueIsRemovedWhileBusyConsumedAndActiveOnesAreKept() throws Exception {
        String idle = Envelopes.uniqueAgent("idle");
        String consumed = Envelopes.uniqueAgent("consumed");
        String active = Envelopes.uniqueAgent("active");
        String busy = Envelopes.uniqueAgent("busy");
        createQueue(idle);
        createQueue(consumed);
        createQueue(active);
        AtomicInteger sentToBusy = new AtomicInteger();
        Session session = broker.session();
        try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + consumed))) {
            // the active agent sends now and then (every poll), so it is always seen; its messages keep busy's queue full
            await().pollInterval(Duration.ofMillis(500)).atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(broker.postMessage(Envelopes.to(active, busy)).statusCode()).isEqualTo(202);
                sentToBusy.incrementAndGet();
                assertThat(broker.queueExists("mas.agent." + idle)).as("idle queue removed").isFalse();
            });
            // the run that removed it may still be going through the other queues: two more complete runs
            NotifyBuilder twoMoreRuns = new NotifyBuilder(broker.context()).fromRoute("queue-cleanup").whenCompleted(2).create();
            assertThat(twoMoreRuns.matches(30, TimeUnit.SECONDS)).as("two clean-up runs after the removal").isTrue();

            assertThat(broker.queueExists("mas.agent." + consumed)).as("queue with a consumer").isTrue();
            assertThat(broker.artemis().locateQueue(SimpleString.of("mas.agent." + consumed)).getConsumerCount())
                    .as("its consumer").isEqualTo(1);
            assertThat(broker.queueExists("mas.agent." + active)).as("queue of an agent seen recently").isTrue();
            // every message sent to busy is still there: a queue removed and re-created by the next send would have fewer
            assertThat(broker.depth("mas.agent." + busy)).as("queue with messages").isEqualTo(sentToBusy.get());
            // the kept consumer still gets what is sent to its queue
            assertThat(broker.postMessage(Envelopes.withId("kept-" + consumed, active, consumed)).statusCode()).isEqualTo(202);
            Message delivered = consumer.receive(10_000);
            assertThat(delivered).as("delivered to the kept consumer").isNotNull();
            assertThat(delivered.getStringProperty("mas_id")).isEqualTo("kept-" + consumed);
        } finally {
            session.close();
        }
        assertThat(broker.receiveExactly("mas.agent." + busy, sentToBusy.get())).hasSize(sentToBusy.get());
        // a removed queue comes back with the next message for its agent
        assertThat(broker.postMessage(Envelopes.to(active, idle)).statusCode()).isEqualTo(202);
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + idle)).isEqualTo(1));
    }

    @Test
    void expiredMessagesAreClearedToTheExpiredQueueAndRecorded() throws Exception {
        String agent = Envelopes.uniqueAgent("late");
        assertThat(broker.postMessage("{\"id\":\"cleanup-ttl\",\"from_agent\":\"a\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"event\",\"payload\":{},\"ttl\":1}").statusCode()).isEqualTo(202);
        assertThat(broker.postMessage("{\"id\":\"cleanup-no-ttl\",\"from_agent\":\"a\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"event\",\"payload\":{}}").statusCode()).isEqualTo(202);

        await().untilAsserted(() -> assertThat(recipientStatus("cleanup-ttl")).isEqualTo("expired"));
        assertThat(broker.receiveOne("mas.expired").getStringProperty("mas_id")).isEqualTo("cleanup-ttl");
        assertThat(recipientStatus("cleanup-no-ttl")).isEqualTo("queued");
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
    }

    private static String recipientStatus(String id) throws Exception {
        JsonNode status = JSON.readTree(broker.get("/api/messages/" + id, RunningBroker.API_KEY).body());
        return status.get("recipients").get(0).get("status").asText();
    }
}
