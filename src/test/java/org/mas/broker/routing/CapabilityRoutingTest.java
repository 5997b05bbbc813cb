package org.mas.broker.routing;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * to_capability: a message for whichever agent offering the capability is free (competing consumers on
 * mas.capability.&lt;name&gt;), acknowledged by that agent as itself. summarizer-1 and summarizer-2 offer "summarize",
 * translator offers "translate". ack_timeout 30 s here, so that no copy is sent twice while the test acknowledges.
 */
class CapabilityRoutingTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AGENTS = "[{\"id\":\"summarizer-1\",\"capabilities\":[\"summarize\"]},"
            + "{\"id\":\"summarizer-2\",\"capabilities\":[\"summarize\",\"text.review\"]},"
            + "{\"id\":\"translator\",\"capabilities\":[\"translate\"]}]";

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_AGENTS", AGENTS,
            "MESSAGE_BROKER_ACK_TIMEOUT", "30"));

    @TempDir
    Path dir;

    private static String toCapability(String id, String capability, boolean requiresAck) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_capability\":\"" + capability
                + "\",\"message_type\":\"request\",\"payload\":{\"text\":\"...\"},\"requires_ack\":" + requiresAck + "}";
    }

    private static HttpResponse<String> ack(RunningBroker on, String id, String agent) throws Exception {
        return on.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");
    }

    private static JsonNode status(RunningBroker on, String id) throws Exception {
        HttpResponse<String> response = on.get("/api/messages/" + id, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static JsonNode recipient(RunningBroker on, String id) throws Exception {
        JsonNode recipients = status(on, id).get("recipients");
        assertThat(recipients).hasSize(1);
        return recipients.get(0);
    }

    /** The actor of the message's step of this kind (e.g. "acked"), or null. */
    private static String actorOf(RunningBroker on, String id, String event) throws Exception {
        for (JsonNode step : status(on, id).get("timeline")) {
            if (step.get("event").asText().equals(event)) {
                return step.path("actor").asText(null);
            }
        }
        return null;
    }

    /** Half by REST, half by JMS; an acknowledgment may come before its copy is recorded (it is held, then applied). */
    @Test
    void twoAgentsOfferingACapabilityShareItsMessagesAndEachAcknowledgesAsItself() throws Exception {
        long refusedBefore = broker.context().getRegistry().lookupByNameAndType("acks",
                org.mas.broker.delivery.Acknowledgments.class).refusedCount();
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort());
        Map<String, String> receivedBy = new ConcurrentHashMap<>(); // message id -> the agent that got it
        List<String> duplicates = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Connection one = factory.createConnection(); Connection two = factory.createConnection()) {
            for (Object[] agent : new Object[][] {{one, "summarizer-1"}, {two, "summarizer-2"}}) {
                Connection connection = (Connection) agent[0];
                String name = (String) agent[1];
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                MessageProducer acks = session.createProducer(session.createQueue("mas.acks"));
                MessageConsumer consumer = session.createConsumer(session.createQueue("mas.capability.summarize"));
                consumer.setMessageListener(message -> {
                    try {
                        String id = message.getStringProperty("mas_id");
                        if (receivedBy.putIfAbsent(id, name) != null) {
                            duplicates.add(id);
                        }
                        acks.send(session.createTextMessage("{\"id\":\"" + id + "\",\"agent\":\"" + name
                                + "\",\"status\":\"processed\"}"));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                connection.start();
            }
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                String id = "shared-" + i;
                ids.add(id);
                if (i % 2 == 0) {
                    assertThat(broker.postMessage(toCapability(id, "summarize", true)).statusCode()).isEqualTo(202);
                } else { // through the JMS batch's own session (TransactedCopySender), recorded after its commit
                    broker.sendText("mas.inbound", toCapability(id, "summarize", true), Map.of());
                }
            }

            await().untilAsserted(() -> assertThat(receivedBy).hasSize(20));
            assertThat(duplicates).isEmpty();
            assertThat(receivedBy.values()).contains("summarizer-1", "summarizer-2"); // competing consumers: both got some
            for (String id : ids) {
                await().untilAsserted(() -> assertThat(recipient(broker, id).get("status").asText()).isEqualTo("acked"));
                assertThat(recipient(broker, id).get("agent").asText()).isEqualTo("capability:summarize");
                assertThat(recipient(broker, id).get("attempts").asInt()).as("sent once: its ack was not refused").isEqualTo(1);
                assertThat(actorOf(broker, id, "acked")).as("who acknowledged %s", id).isEqualTo(receivedBy.get(id));
            }
            assertThat(broker.context().getRegistry().lookupByNameAndType("acks",
                    org.mas.broker.delivery.Acknowledgments.class).refusedCount()).as("acknowledgments refused").isEqualTo(refusedBefore);
        } finally {
            factory.close();
        }
        assertThat(broker.depth("mas.capability.summarize")).isZero();
        assertThat(broker.depth("mas.dlq")).isZero();
    }

    @Test
    void aCopyQueuedAndNotNeedingAnAcknowledgmentIsStillAcknowledgedByTheAgentThatTookIt() throws Exception {
        assertThat(broker.postMessage(toCapability("no-ack-needed", "translate", false)).statusCode()).isEqualTo(202);
        Message received = broker.receiveOne("mas.capability.translate");
        assertThat(received.getStringProperty("mas_id")).isEqualTo("no-ack-needed");
        assertThat(received.getStringProperty("mas_target")).isEqualTo("mas.capability.translate");
        assertThat(((TextMessage) received).getText()).contains("\"to_capability\":\"translate\"");

        HttpResponse<String> acked = ack(broker, "no-ack-needed", "translator");
        assertThat(acked.statusCode()).as(acked.body()).isEqualTo(200);
        assertThat(JSON.readTree(acked.body()).get("status").asText()).isEqualTo("acked");
        assertThat(actorOf(broker, "no-ack-needed", "acked")).isEqualTo("translator");
    }

    @Test
    void anAcknowledgmentFromAnAgentThatDoesNotOfferTheCapabilityIsRefusedLikeOneFromANonRecipient() throws Exception {
        assertThat(broker.postMessage(toCapability("not-yours", "translate", true)).statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.capability.translate").getStringProperty("mas_id")).isEqualTo("not-yours");

        for (String agent : new String[] {"summarizer-1", "stranger", "capability:translate"}) {
            HttpResponse<String> refused = ack(broker, "not-yours", agent);
            assertThat(refused.statusCode()).as("%s: %s", agent, refused.body()).isEqualTo(409);
            assertThat(JSON.readTree(refused.body()).get("error").asText()).isEqualTo("not a recipient");
        }
        assertThat(recipient(broker, "not-yours").get("status").asText()).isEqualTo("queued");
        assertThat(ack(broker, "not-yours", "translator").statusCode()).isEqualTo(200);
        assertThat(recipient(broker, "not-yours").get("status").asText()).isEqualTo("acked");
    }

    @Test
    void aCapabilityNobodyOffersIsUnroutable() throws Exception {
        HttpResponse<String> response = broker.postMessage(toCapability("nobody-offers", "juggle", false));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202); // accepted, then parked, like any unroutable one

        Message dead = broker.deadLetter("nobody-offers");
        assertThat(dead).isNotNull();
        assertThat(dead.getStringProperty("mas_error"))
                .isEqualTo("unroutable: no agent offers the capability 'juggle' (request from planner)");
        assertThat(dead.getStringProperty("mas_target")).isEqualTo("router");
        assertThat(broker.queueExists("mas.capability.juggle")).isFalse();
    }

    @Test
    void anEnvelopeMayNameOnlyOneOfToAgentAndToCapability() throws Exception {
        HttpResponse<String> both = broker.postMessage("{\"from_agent\":\"planner\",\"to_agent\":\"summarizer-1\","
                + "\"to_capability\":\"summarize\",\"message_type\":\"request\",\"payload\":{}}");
        HttpResponse<String> capabilityAsAgent = broker.postMessage("{\"from_agent\":\"planner\","
                + "\"to_agent\":\"capability:summarize\",\"message_type\":\"request\",\"payload\":{}}");

        assertThat(both.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(both.body()).get("details").toString()).contains(
                "exactly one of to_agent, to_agents or to_capability is required (to_agent and to_capability are present)");
        assertThat(capabilityAsAgent.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(capabilityAsAgent.body()).get("details").get(0).asText())
                .startsWith("$.to_agent: 'capability:summarize' is not an agent id that can be addressed");
        HttpResponse<String> queue = broker.post("/api/queues", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"capability:summarize\"}");
        assertThat(queue.statusCode()).as(queue.body()).isEqualTo(400);
    }

    @Test
    void everyOfferedCapabilityHasItsQueueFromStartUpListedWithItsCapability() throws Exception {
        JsonNode queues = JSON.readTree(broker.get("/api/queues", RunningBroker.API_KEY).body()).get("queues");
        Map<String, JsonNode> byName = new HashMap<>();
        queues.forEach(queue -> byName.put(queue.get("name").asText(), queue));

        for (String capability : new String[] {"summarize", "text.review", "translate"}) {
            JsonNode queue = byName.get("mas.capability." + capability);
            assertThat(queue).as(capability).isNotNull();
            assertThat(queue.get("capability").asText()).isEqualTo(capability);
            assertThat(queue.has("agent")).isFalse();
        }
        HttpResponse<String> delete = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri(
                "/api/queues/mas.capability.text.review")).header("X-API-Key", RunningBroker.API_KEY).DELETE());
        assertThat(delete.statusCode()).as(delete.body()).isEqualTo(400);
        assertThat(broker.post("/api/queues/mas.capability.text.review/purge", RunningBroker.API_KEY, "application/json", "")
                .statusCode()).isEqualTo(200);
    }

    /**
     * Its own broker: ack_timeout 1 s and retry_count 1 (a copy nobody acknowledges is sent twice, then parked), idle
     * queues removed after 2 s, and a routing rule that reads to_capability.
     */
    @Test
    void anUnacknowledgedCapabilityCopyIsSentAgainThenDeadLetteredAndReplayedToItsQueue() throws Exception {
        Path rules = Files.createDirectories(dir.resolve("rules"));
        String shipped = Files.readString(Path.of("routes/routing/routing-rules.yaml"));
        String marker = "              # Add rules here";
        assertThat(shipped).contains(marker);
        Files.writeString(rules.resolve("capability-rules.yaml"), shipped.replace(marker, """
                              - simple: "${exchangeProperty.envelope.toCapability} == 'summarize.legacy'"
                                steps:
                                  - bean:
                                      ref: recipients
                                      method: "only(*, 'capability:summarize')"
                """ + marker));
        Map<String, String> settings = Map.of("MESSAGE_BROKER_AGENTS", AGENTS, "MESSAGE_BROKER_ACK_TIMEOUT", "1",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "1", "MESSAGE_BROKER_CLEANUP_INTERVAL", "1",
                "MESSAGE_BROKER_IDLE_QUEUE_TIMEOUT", "2");
        Map<String, String> properties = Map.of("mas.ack.scan-interval-ms", "100",
                "camel.main.routes-include-pattern", "file:routes/**/*.yaml,file:" + rules.toAbsolutePath() + "/*.yaml",
                "camel.main.routes-exclude-pattern", "**/routing/routing-rules.yaml");
        try (RunningBroker own = RunningBroker.start(dir.resolve("data"), settings, properties)) {
            // the rule reads to_capability and hands the message to another capability
            assertThat(own.postMessage(toCapability("legacy-1", "summarize.legacy", true)).statusCode()).isEqualTo(202);

            // nobody consumes: sent, sent again after ack_timeout, then parked
            await().untilAsserted(() -> assertThat(recipient(own, "legacy-1").get("status").asText())
                    .isEqualTo("dead_lettered"));
            assertThat(recipient(own, "legacy-1").get("agent").asText()).isEqualTo("capability:summarize");
            List<Message> sends = own.receiveExactly("mas.capability.summarize", 2);
            assertThat(sends).extracting(m -> m.getStringProperty("mas_id")).containsOnly("legacy-1");
            assertThat(sends.get(1).getIntProperty("mas_attempts")).isEqualTo(2);

            JsonNode listed = JSON.readTree(own.get("/api/dlq?agent=capability:summarize", RunningBroker.API_KEY).body());
            assertThat(listed.get("total").asInt()).isEqualTo(1);
            JsonNode dead = listed.get("items").get(0);
            assertThat(dead.get("id").asText()).isEqualTo("legacy-1");
            assertThat(dead.get("agent").asText()).isEqualTo("capability:summarize");
            assertThat(dead.get("target").asText()).isEqualTo("mas.capability.summarize");
            assertThat(dead.get("reason").asText()).isEqualTo("no acknowledgment within 1 s");

            // replayed as it was: to the capability's queue again, and acknowledged by an agent that offers it
            HttpResponse<String> replayed = own.post("/api/dlq/legacy-1/replay", RunningBroker.API_KEY, "application/json", "");
            assertThat(replayed.statusCode()).as(replayed.body()).isEqualTo(202);
            Message again = own.receiveOne("mas.capability.summarize");
            assertThat(again.getStringProperty("mas_id")).isEqualTo("legacy-1");
            own.sendText("mas.acks", "{\"id\":\"legacy-1\",\"agent\":\"summarizer-2\",\"status\":\"processed\"}", Map.of());
            await().untilAsserted(() -> assertThat(recipient(own, "legacy-1").get("status").asText()).isEqualTo("acked"));

            // queue clean-up removes idle agent queues, never a capability's
            assertThat(own.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"gone-soon\"}")
                    .statusCode()).isEqualTo(201);
            await().untilAsserted(() -> assertThat(own.queueExists("mas.agent.gone-soon")).isFalse());
            assertThat(own.queueExists("mas.capability.translate")).isTrue();
            assertThat(own.queueExists("mas.capability.summarize")).isTrue();
        }
    }

    @Test
    void capabilitiesOfConfiguredAgentsAreKnown() {
        org.mas.broker.identity.CapabilityDirectory capabilities = broker.context().getRegistry()
                .lookupByNameAndType("capabilities", org.mas.broker.identity.CapabilityDirectory.class);
        assertThat(capabilities.isOffered("summarize")).isTrue();
        assertThat(capabilities.isOffered("juggle")).isFalse();
        assertThat(capabilities.offers("summarizer-2", "text.review")).isTrue();
        assertThat(capabilities.offers("summarizer-1", "text.review")).isFalse();
        assertThat(Set.of("summarizer-1", "summarizer-2")).allMatch(agent -> capabilities.offers(agent, "summarize"));
    }
}
