package org.mas.broker.delivery;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.jms.Message;
import jakarta.jms.TextMessage;
import org.apache.camel.builder.AdviceWith;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Nothing accepted is lost or duplicated: failures injected after the consume (and after the sends) of the JMS
 * ingress, and failures of the send to an agent queue (injected, and real: a full address), with retry_count = 3.
 */
class DeliveryGuaranteesTest {

    private static final String MARKER = "testMarker";

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "3"));

    /** Per marker: what the failure injector does on attempt n (true = roll back after the sends). */
    static final Map<String, List<Boolean>> ROLLBACK_PLAN = new ConcurrentHashMap<>();
    static final Map<String, AtomicInteger> ATTEMPTS = new ConcurrentHashMap<>();
    static final Map<String, List<Long>> DEPTH_AT_START = new ConcurrentHashMap<>();
    static final Map<String, List<Boolean>> REDELIVERED = new ConcurrentHashMap<>();
    /** Per agent queue: how many sends to it fail before one succeeds. */
    static final Map<String, AtomicInteger> SEND_FAILURES_LEFT = new ConcurrentHashMap<>();
    static final Map<String, AtomicInteger> SEND_ATTEMPTS = new ConcurrentHashMap<>();
    /** Ids of REST requests whose shared transaction is made to roll back. */
    static final java.util.Set<String> FAIL_REST_BATCH = ConcurrentHashMap.newKeySet();

    @BeforeAll
    static void start() throws Exception {
        AdviceWith.adviceWith(broker.context(), "ingress-jms", route -> {
            route.weaveAddFirst().process(exchange -> {
                Message jms = exchange.getIn().getBody(Message.class); // jms-batch: the body is the JMS message
                String marker = jms.getStringProperty(MARKER);
                if (marker != null) {
                    exchange.setProperty(MARKER, marker);
                    DEPTH_AT_START.computeIfAbsent(marker, m -> new CopyOnWriteArrayList<>())
                            .add(broker.depth("mas.agent." + marker));
                    REDELIVERED.computeIfAbsent(marker, m -> new CopyOnWriteArrayList<>()).add(jms.getJMSRedelivered());
                }
            });
            // after the message has been validated, routed and sent to its queue: a crash stand-in
            route.weaveAddLast().process(exchange -> {
                String marker = exchange.getProperty(MARKER, String.class);
                if (marker != null && ROLLBACK_PLAN.containsKey(marker)) {
                    int attempt = ATTEMPTS.computeIfAbsent(marker, m -> new AtomicInteger()).incrementAndGet();
                    List<Boolean> plan = ROLLBACK_PLAN.get(marker);
                    if (attempt <= plan.size() && plan.get(attempt - 1)) {
                        exchange.setRollbackOnly(true);
                    }
                }
            });
        });
        // a REST request whose shared transaction must not commit: its batch is rolled back, and it is tried alone
        AdviceWith.adviceWith(broker.context(), "rest-message-path", route -> route.weaveAddLast().process(exchange -> {
            if (exchange.getProperty(org.mas.broker.MasNames.PROPERTY_BEFORE_COMMIT) != null
                    && FAIL_REST_BATCH.contains(exchange.getIn().getHeader("mas_id", String.class))) {
                exchange.setRollbackOnly(true);
            }
        }));
        AdviceWith.adviceWith(broker.context(), "deliver-to-agent-queues", route -> route
                .interceptSendToEndpoint("jms*")
                .when(exchange -> SEND_FAILURES_LEFT.containsKey(exchange.getIn().getHeader("mas_target", String.class)))
                .process(exchange -> {
                    String target = exchange.getIn().getHeader("mas_target", String.class);
                    SEND_ATTEMPTS.computeIfAbsent(target, t -> new AtomicInteger()).incrementAndGet();
                    if (SEND_FAILURES_LEFT.get(target).getAndDecrement() > 0) {
                        throw new IOException("simulated failure of the send to " + target);
                    }
                }));
    }


    @Test
    void aRollbackAfterTheSendsUndoesThemAndTheRedeliveryQueuesExactlyOneCopy() throws Exception {
        String agent = Envelopes.uniqueAgent("tx");
        ROLLBACK_PLAN.put(agent, List.of(true));

        broker.sendText("mas.inbound", Envelopes.withId("tx-" + agent, "a", agent), Map.of(MARKER, agent));

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(ATTEMPTS.get(agent)).hasValue(2));
        // every attempt is over (the last one committed): what is on the agent queue now is all there will be
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        // when the broker redelivered, the rolled-back attempt had left nothing on the agent queue
        assertThat(DEPTH_AT_START.get(agent)).containsExactly(0L, 0L);
        assertThat(REDELIVERED.get(agent)).containsExactly(false, true);
        // the rolled-back attempt left nothing in the ledger either
        // (its steps are recorded just after the commit that emptied mas.inbound)
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, "tx-" + agent)))
                .containsExactly("accepted", "queued"));
        assertThat(broker.receiveExactly("mas.agent." + agent, 1).get(0).getStringProperty("mas_id")).isEqualTo("tx-" + agent);
    }

    @Test
    void repeatedFailuresAfterTheSendsNeverDuplicateTheMessage() throws Exception {
        String agent = Envelopes.uniqueAgent("again");
        ROLLBACK_PLAN.put(agent, List.of(true, true, true, false));

        broker.sendText("mas.inbound", Envelopes.withId("again-" + agent, "a", agent), Map.of(MARKER, agent));

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(ATTEMPTS.get(agent)).hasValue(4));
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, "again-" + agent)))
                .containsExactly("accepted", "queued"));
        List<Message> delivered = broker.receiveExactly("mas.agent." + agent, 1);
        assertThat(delivered.get(0).getStringProperty("mas_id")).isEqualTo("again-" + agent);
    }

    @Test
    void anEnvelopeWithoutIdKeepsOneIdAcrossRedeliveriesAndIsQueuedOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("noid");
        ROLLBACK_PLAN.put(agent, List.of(true, true, false));

        broker.sendText("mas.inbound", Envelopes.to("a", agent), Map.of(MARKER, agent));

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(ATTEMPTS.get(agent)).hasValue(3));
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        String id = broker.receiveExactly("mas.agent." + agent, 1).get(0).getStringProperty("mas_id");
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id)))
                .containsExactly("accepted", "queued"));
    }

    /**
     * A REST request whose shared transaction cannot commit is tried again alone, and then (like a JMS redelivery) sends
     * copy by copy through the route, each send retried on its own.
     */
    @Test
    void aFailedSendIsRetriedThenSucceedsOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("flaky");
        String id = "flaky-" + agent;
        SEND_FAILURES_LEFT.put("mas.agent." + agent, new AtomicInteger(2));
        FAIL_REST_BATCH.add(id);

        assertThat(broker.postMessage(Envelopes.withId(id, "a", agent)).statusCode()).isEqualTo(202);

        // 202 comes once the copy is on its queue: every send attempt is over
        assertThat(SEND_ATTEMPTS.get("mas.agent." + agent)).hasValue(3);
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        assertThat(broker.receiveExactly("mas.agent." + agent, 1)).hasSize(1);
    }

    /**
     * A first delivery's copies go out in its batch's transaction; the full queue fails that transaction, the batch is
     * redelivered, and the redelivery goes copy by copy through the route: retried, then dead-lettered.
     */
    @Test
    void aSendThatKeepsFailingIsDeadLetteredAfterRetryCountRedeliveriesWhileOtherRecipientsGetTheirs() throws Exception {
        String broken = broker.fullAgentQueue();
        String healthy = Envelopes.uniqueAgent("healthy");

        broker.sendText("mas.inbound", "{\"id\":\"dl-" + broken + "\",\"from_agent\":\"a\",\"to_agents\":[\"" + broken
                + "\",\"" + healthy + "\"],\"message_type\":\"command\",\"payload\":{}}", Map.of());

        Message dead = broker.deadLetter("dl-" + broken);
        assertThat(dead.getStringProperty("mas_target")).isEqualTo("mas.agent." + broken);
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(4);
        assertThat(dead.getStringProperty("mas_error")).contains("full");
        assertThat(((TextMessage) dead).getText()).contains("\"id\":\"dl-" + broken + "\"");
        assertThat(dead.getJMSExpiration()).isZero();
        assertThat(broker.depth("mas.agent." + broken)).isEqualTo(1); // only the message that filled it
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        // the redelivery's steps are recorded just after its commit, which the dead letter can be consumed before
        await().untilAsserted(() -> {
            var status = DeliveryLedgerTest.status(broker, "dl-" + broken);
            assertThat(DeliveryLedgerTest.events(status)).contains("retrying", "dead_lettered").containsOnlyOnce("accepted");
            assertThat(status.get("recipients").findValuesAsText("status")).as(status.toPrettyString())
                    .containsExactlyInAnyOrder("queued", "dead_lettered");
        });
        // every attempt is over: the healthy recipient has its copy exactly once, whichever attempt queued it
        assertThat(broker.receiveExactly("mas.agent." + healthy, 1)).hasSize(1);
    }

    @Test
    void restIngressStillAnswers202WhenOneRecipientIsDeadLettered() throws Exception {
        String broken = broker.fullAgentQueue();

        var response = broker.postMessage(Envelopes.withId("rest-" + broken, "a", broken));

        assertThat(response.statusCode()).isEqualTo(202);
        Message dead = broker.deadLetter("rest-" + broken);
        assertThat(dead.getStringProperty("mas_ingress")).isEqualTo("rest");
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(4);
    }

}
