package org.mas.broker.identity;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.JMSException;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.api.jms.management.JMSManagementHelper;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.config.BrokerLauncher;
import org.mas.broker.delivery.Acknowledgments;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Agent identities on the embedded broker with anonymous connections refused (security.allow_anonymous false): every
 * protocol's real client authenticates as a registered agent, and an agent may do only what its registration allows.
 * The test's own reads of mas.invalid and the agent queues go through the router's in-VM connection (RunningBroker).
 */
@Timeout(300)
class AgentAuthenticationTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG_AGENT = "configured-planner";
    private static final String CONFIG_SECRET = "configured-secret-0123456789";

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of(
            "MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false",
            "MESSAGE_BROKER_AGENTS", "[{\"id\": \"" + CONFIG_AGENT + "\", \"secret_hash\": \"" + hashSecret(CONFIG_SECRET)
                    + "\", \"capabilities\": [\"configured-planning\"]}]"));

    /** The hash that {@code java -jar mas-message-broker.jar --hash-secret} prints for this secret on stdin. */
    private static String hashSecret(String secret) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            int exit = BrokerLauncher.hashSecret(new ByteArrayInputStream((secret + "\n").getBytes(StandardCharsets.UTF_8)),
                    new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
            assertThat(exit).isZero();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toString(StandardCharsets.UTF_8).trim();
    }

    // ---- the registry's REST API

    @Test
    void registrationShowsTheSecretOnceAndNeverAHash() throws Exception {
        String id = Envelopes.uniqueAgent("registered");
        HttpResponse<String> created = post("/api/agents", "{\"id\":\"" + id + "\",\"capabilities\":[\"summarize\"],"
                + "\"roles\":[\"monitor\"],\"endpoint\":null}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        JsonNode body = JSON.readTree(created.body());
        assertThat(body.get("id").asText()).isEqualTo(id);
        assertThat(body.get("secret").asText()).matches("[A-Za-z0-9_-]{43}");
        assertThat(body.get("capabilities").toString()).isEqualTo("[\"summarize\"]");
        assertThat(body.get("roles").toString()).isEqualTo("[\"monitor\"]");
        assertThat(body.get("enabled").asBoolean()).isTrue();
        assertThat(body.get("origin").asText()).isEqualTo("api");
        assertThat(body.has("created_at")).isTrue();
        assertThat(broker.queueExists("mas.agent." + id)).isTrue();
        assertThat(broker.queueExists("mas.capability.summarize")).isTrue();

        HttpResponse<String> one = broker.get("/api/agents/" + id, RunningBroker.API_KEY);
        assertThat(one.statusCode()).isEqualTo(200);
        assertThat(one.body()).doesNotContain("secret\"").doesNotContain("$2");
        HttpResponse<String> list = broker.get("/api/agents", RunningBroker.API_KEY);
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(list.body()).contains("\"" + id + "\"").contains("\"" + CONFIG_AGENT + "\"")
                .doesNotContain(body.get("secret").asText()).doesNotContain("$2a$").doesNotContain("secret_hash");

        HttpResponse<String> again = post("/api/agents", "{\"id\":\"" + id + "\"}");
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(JSON.readTree(again.body()).get("error").asText()).isEqualTo("agent exists");
        assertThat(broker.get("/api/agents/nobody-" + id, RunningBroker.API_KEY).statusCode()).isEqualTo(404);
        assertThat(broker.get("/api/agents", null).statusCode()).isEqualTo(401);
    }

    @Test
    void aBadRegistrationGetsEveryProblemAt400() throws Exception {
        HttpResponse<String> response = post("/api/agents", "{\"id\":\"broadcast\",\"capabilities\":[\"no spaces\",\"ok\",\"ok\"],"
                + "\"roles\":[\"admin\"],\"endpoint\":\"ftp://x\",\"colour\":\"red\"}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("error").asText()).isEqualTo("invalid agent");
        assertThat(body.get("details").toString()).contains("$.colour: unknown field").contains("$.id: 'broadcast' is reserved")
                .contains("'no spaces' is not a capability name").contains("'ok' is listed twice")
                .contains("'admin' is not a role").contains("$.endpoint");
        for (String id : new String[] {"mas-router", "capability:planning", "a::b", ""}) {
            HttpResponse<String> reserved = post("/api/agents", "{\"id\":\"" + id + "\"}");
            assertThat(reserved.statusCode()).as(id + ": " + reserved.body()).isEqualTo(400);
        }
        String many = java.util.stream.IntStream.range(0, 101).mapToObj(n -> "\"c" + n + "\"")
                .collect(java.util.stream.Collectors.joining(","));
        HttpResponse<String> tooBig = post("/api/agents", "{\"id\":\"big\",\"capabilities\":[" + many + "],"
                + "\"endpoint\":\"http://example.org/" + "x".repeat(3000) + "\"}");
        assertThat(tooBig.statusCode()).as(tooBig.body()).isEqualTo(400);
        assertThat(tooBig.body()).contains("$.capabilities: at most 100, got 101")
                .contains("$.endpoint: an http:// or https:// URL with a host, at most 2048 characters");
        assertThat(post("/api/agents", "[1]").statusCode()).isEqualTo(400);
        assertThat(post("/api/agents", "{not json").statusCode()).isEqualTo(400);
    }

    @Test
    void aConfiguredAgentConnectsWithTheHashFromHashSecretAndIsReadOnlyThroughTheApi() throws Exception {
        try (Connection connection = core().createConnection(CONFIG_AGENT, CONFIG_SECRET)) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createConsumer(session.createQueue("mas.agent." + CONFIG_AGENT)).close();
            session.createConsumer(session.createQueue("mas.capability.configured-planning")).close();
        }
        JsonNode shown = JSON.readTree(broker.get("/api/agents/" + CONFIG_AGENT, RunningBroker.API_KEY).body());
        assertThat(shown.get("origin").asText()).isEqualTo("config");
        for (HttpResponse<String> refused : new HttpResponse[] {post("/api/agents", "{\"id\":\"" + CONFIG_AGENT + "\"}"),
                post("/api/agents/" + CONFIG_AGENT + "/secret", ""), delete("/api/agents/" + CONFIG_AGENT)}) {
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
            assertThat(JSON.readTree(refused.body()).get("error").asText()).isEqualTo("agent declared in configuration");
        }
    }

    // ---- authentication, every protocol

    @Test
    void coreJmsAuthenticatesAgentsAndRefusesAnonymousAndWrongSecrets() throws Exception {
        String id = register("core", "[]", "[]");
        assertThatThrownBy(() -> core().createConnection().close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection(id, "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection("nobody-" + id, "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection("mas-router", "guess").close()).isInstanceOf(JMSSecurityException.class);
        String secret = secrets.get(id);
        String messageId = deliverTo(id);
        try (Connection connection = core().createConnection(id, secret)) {
            assertOwnQueueOnly(connection, id, messageId);
        }
    }

    @Test
    void amqpAuthenticatesAgents() throws Exception {
        String id = register("amqp", "[]", "[]");
        ConnectionFactory amqp = new org.apache.qpid.jms.JmsConnectionFactory("amqp://127.0.0.1:" + broker.brokerPort());
        assertThatThrownBy(() -> startAndClose(amqp.createConnection())).isInstanceOf(JMSSecurityException.class);
        // qpid-jms: JMSSecuritySaslException, a JMSSecurityException
        assertThatThrownBy(() -> startAndClose(amqp.createConnection(id, "wrong"))).isInstanceOf(JMSSecurityException.class);
        String messageId = deliverTo(id);
        try (Connection connection = amqp.createConnection(id, secrets.get(id))) {
            assertOwnQueueOnly(connection, id, messageId);
        }
    }

    @Test
    void openWireAuthenticatesAgents() throws Exception {
        String id = register("openwire", "[]", "[]");
        String messageId = deliverTo(id);
        assertThatThrownBy(() -> startAndClose(openWire(null, null).createConnection())).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> startAndClose(openWire(id, "wrong").createConnection())).isInstanceOf(JMSSecurityException.class);
        try (Connection connection = openWire(id, secrets.get(id)).createConnection()) {
            assertOwnQueueOnly(connection, id, messageId);
        }
    }

    @Test
    void stompAuthenticatesAgents() throws Exception {
        String id = register("stomp", "[]", "[]");
        assertThatThrownBy(() -> RawStomp.connect(broker.brokerPort()).close()).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> RawStomp.connect(broker.brokerPort(), id, "wrong").close()).isInstanceOf(IOException.class);
        String messageId = deliverTo(id);
        String other = register("stomp-other", "[]", "[]");
        try (RawStomp stomp = RawStomp.connect(broker.brokerPort(), id, secrets.get(id))) {
            stomp.send("SUBSCRIBE", Map.of("id", "own", "destination", "mas.agent." + id, "ack", "auto"), null, true);
            RawStomp.Frame copy = stomp.read();
            assertThat(copy.command()).as(copy.toString()).isEqualTo("MESSAGE");
            assertThat(copy.headers().get("mas_id")).isEqualTo(messageId);
        }
        try (RawStomp stomp = RawStomp.connect(broker.brokerPort(), id, secrets.get(id))) {
            stomp.send("SUBSCRIBE", Map.of("id", "theirs", "destination", "mas.agent." + other, "receipt", "r1"), null, true);
            RawStomp.Frame refused = stomp.read();
            assertThat(refused.command()).as(refused.toString()).isEqualTo("ERROR");
        }
        try (RawStomp stomp = RawStomp.connect(broker.brokerPort(), id, secrets.get(id))) {
            stomp.send("SEND", Map.of("destination", "mas.agent." + other, "receipt", "r2"), "{}", true);
            RawStomp.Frame refused = stomp.read();
            assertThat(refused.command()).as(refused.toString()).isEqualTo("ERROR");
        }
        assertThat(broker.depth("mas.agent." + other)).isZero();
    }

    @Test
    void mqttAuthenticatesAgents() throws Exception {
        String id = register("mqtt", "[]", "[]");
        String other = register("mqtt-other", "[]", "[]");
        String url = "tcp://127.0.0.1:" + broker.brokerPort();
        assertThatThrownBy(() -> mqtt(url, id, null, null)).isInstanceOf(MqttException.class);
        assertThatThrownBy(() -> mqtt(url, id, id, "wrong")).isInstanceOf(MqttException.class);
        String messageId = deliverTo(id);
        BlockingQueue<String> received = new ArrayBlockingQueue<>(10);
        MqttClient client = mqtt(url, id, id, secrets.get(id));
        try {
            // a callback, not a listener per subscription: the messages' topic (mas/agent/<id>) is not the FQQN filter
            client.setCallback(new org.eclipse.paho.client.mqttv3.MqttCallback() {
                @Override
                public void connectionLost(Throwable cause) {
                }

                @Override
                public void messageArrived(String topic, org.eclipse.paho.client.mqttv3.MqttMessage message) {
                    received.add(new String(message.getPayload(), StandardCharsets.UTF_8));
                }

                @Override
                public void deliveryComplete(org.eclipse.paho.client.mqttv3.IMqttDeliveryToken token) {
                }
            });
            client.subscribe("mas/agent/" + id + "::mas/agent/" + id, 1);
            String copy = received.poll(30, TimeUnit.SECONDS);
            assertThat(copy).as("the copy over MQTT").isNotNull().contains(messageId);
            assertThatThrownBy(() -> client.subscribe("mas/agent/" + other + "::mas/agent/" + other, 1))
                    .isInstanceOf(MqttException.class);
        } finally {
            if (client.isConnected()) {
                client.disconnect();
            }
            client.close();
        }
    }

    // ---- what an agent may do

    @Test
    void anAgentCannotSendToAnotherAgentsQueueCreateQueuesOrCallManagement() throws Exception {
        String a = register("a", "[]", "[]");
        String b = register("b", "[]", "[]");
        try (Connection connection = core().createConnection(a, secrets.get(a))) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = session.createProducer(session.createQueue("mas.agent." + b))) {
                assertThatThrownBy(() -> producer.send(session.createTextMessage(Envelopes.to(a, b))))
                        .isInstanceOf(JMSSecurityException.class);
            }
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.agent.new-" + a)))
                    .isInstanceOf(JMSSecurityException.class);
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.dlq"))).isInstanceOf(JMSSecurityException.class);
            assertThatThrownBy(() -> session.createTemporaryQueue()).isInstanceOf(JMSSecurityException.class);
            try (MessageProducer management = session.createProducer(session.createQueue("activemq.management"))) {
                Message call = session.createMessage();
                JMSManagementHelper.putOperationInvocation(call, "broker", "destroyQueue", "mas.agent." + b);
                assertThatThrownBy(() -> management.send(call)).isInstanceOf(JMSSecurityException.class);
            }
        }
        assertThat(broker.queueExists("mas.agent." + b)).isTrue();
        assertThat(broker.queueExists("mas.agent.new-" + a)).isFalse();
        assertThat(broker.depth("mas.agent." + b)).isZero();
    }

    @Test
    void anAgentSendingAsAnotherLandsOnInvalidWithBothNames() throws Exception {
        String a = register("sender", "[]", "[]");
        String b = register("victim", "[]", "[]");
        String c = register("recipient", "[]", "[]");
        String forged = "forged-" + a;
        String honest = "honest-" + a;
        try (Connection connection = core().createConnection(a, secrets.get(a))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"))) {
                TextMessage message = session.createTextMessage(Envelopes.withId(forged, b, c));
                message.setStringProperty("_AMQ_VALIDATED_USER", b); // a forged validated user does not help
                producer.send(message);
                producer.send(session.createTextMessage(Envelopes.withId(honest, a, c)));
            }
        }
        Message copy = broker.receiveOne("mas.agent." + c);
        assertThat(copy.getStringProperty("mas_id")).isEqualTo(honest);
        Message invalid = broker.receiveOne("mas.invalid");
        assertThat(invalid).isNotNull();
        assertThat(((TextMessage) invalid).getText()).contains(forged);
        assertThat(invalid.getStringProperty("mas_error")).contains("'" + b + "'").contains("'" + a + "'");
    }

    @Test
    void anAgentAckingAsAnotherIsRefused() throws Exception {
        String a = register("acker", "[]", "[]");
        String b = register("ackee", "[]", "[]");
        String id = "needs-ack-" + b;
        HttpResponse<String> accepted = broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"" + a + "\",\"to_agent\":\""
                + b + "\",\"message_type\":\"request\",\"requires_ack\":true,\"payload\":{}}");
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + b) == 1);
        long refusedBefore = acks().refusedCount();
        try (Connection connection = core().createConnection(a, secrets.get(a))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = session.createProducer(session.createQueue("mas.acks"))) {
                producer.send(session.createTextMessage(ack(id, b)));
            }
        }
        await().until(() -> acks().refusedCount() == refusedBefore + 1);
        assertThat(recipientStatus(id)).isNotEqualTo("acked");
        try (Connection connection = core().createConnection(b, secrets.get(b))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = session.createProducer(session.createQueue("mas.acks"))) {
                producer.send(session.createTextMessage(ack(id, b)));
            }
        }
        await().untilAsserted(() -> assertThat(recipientStatus(id)).isEqualTo("acked"));
    }

    @Test
    void aMonitorSubscribesToAlertsAndOthersCannot() throws Exception {
        String monitor = register("monitor", "[]", "[\"monitor\"]");
        String plain = register("plain", "[]", "[]");
        try (Connection connection = core().createConnection(monitor, secrets.get(monitor))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createConsumer(session.createTopic("mas.alerts")).close();
        }
        try (Connection connection = core().createConnection(plain, secrets.get(plain))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            assertThatThrownBy(() -> session.createConsumer(session.createTopic("mas.alerts")))
                    .isInstanceOf(JMSSecurityException.class);
        }
    }

    @Test
    void anAgentConsumesItsCapabilityQueueButNotAnothers() throws Exception {
        String planner = register("planner", "[\"planning\"]", "[]");
        register("translator", "[\"translation\"]", "[]");
        try (Connection connection = core().createConnection(planner, secrets.get(planner))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createConsumer(session.createQueue("mas.capability.planning")).close();
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.capability.translation")))
                    .isInstanceOf(JMSSecurityException.class);
        }
    }

    // ---- rotation, disabling, counting

    @Test
    void aRotatedSecretStopsWorkingAndItsConnectionIsClosed() throws Exception {
        String id = register("rotating", "[]", "[]");
        String old = secrets.get(id);
        try (Connection connection = core().createConnection(id, old)) {
            AtomicBoolean closed = new AtomicBoolean();
            connection.setExceptionListener(e -> closed.set(true));
            connection.start();
            HttpResponse<String> rotated = post("/api/agents/" + id + "/secret", "");
            assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
            JsonNode body = JSON.readTree(rotated.body());
            assertThat(body.get("id").asText()).isEqualTo(id);
            String fresh = body.get("secret").asText();
            assertThat(fresh).isNotEqualTo(old);
            await().untilTrue(closed);
            assertThatThrownBy(() -> core().createConnection(id, old).close()).isInstanceOf(JMSSecurityException.class);
            core().createConnection(id, fresh).close();
        }
    }

    @Test
    void aDisabledAgentIsDisconnectedAndRefused() throws Exception {
        String id = register("disabled", "[]", "[]");
        try (Connection connection = core().createConnection(id, secrets.get(id))) {
            AtomicBoolean closed = new AtomicBoolean();
            connection.setExceptionListener(e -> closed.set(true));
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createConsumer(session.createQueue("mas.agent." + id));
            HttpResponse<String> disabled = delete("/api/agents/" + id);
            assertThat(disabled.statusCode()).as(disabled.body()).isEqualTo(200);
            assertThat(disabled.body()).isEqualTo("{\"id\":\"" + id + "\",\"enabled\":false}");
            await().untilTrue(closed);
        }
        assertThatThrownBy(() -> core().createConnection(id, secrets.get(id)).close()).isInstanceOf(JMSSecurityException.class);
        assertThat(JSON.readTree(broker.get("/api/agents/" + id, RunningBroker.API_KEY).body()).get("enabled").asBoolean()).isFalse();
        assertThat(post("/api/agents/" + id + "/secret", "").statusCode()).isEqualTo(409);
        // registered again: a new secret, enabled
        HttpResponse<String> again = post("/api/agents", "{\"id\":\"" + id + "\"}");
        assertThat(again.statusCode()).as(again.body()).isEqualTo(201);
        core().createConnection(id, JSON.readTree(again.body()).get("secret").asText()).close();
    }

    @Test
    void failedAuthenticationsAreCountedPerProtocol() throws Exception {
        double core = failures("core");
        double stomp = failures("stomp");
        double rest = failures("rest");
        assertThatThrownBy(() -> core().createConnection("nobody", "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection("nobody", "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> RawStomp.connect(broker.brokerPort(), "nobody", "wrong").close()).isInstanceOf(IOException.class);
        assertThat(broker.get("/api/agents", "wrong-key").statusCode()).isEqualTo(401);
        await().untilAsserted(() -> {
            assertThat(failures("core")).isGreaterThanOrEqualTo(core + 2);
            assertThat(failures("stomp")).isGreaterThanOrEqualTo(stomp + 1);
            assertThat(failures("rest")).isGreaterThanOrEqualTo(rest + 1);
        });
    }

    // ---- helpers

    private static final Map<String, String> secrets = new java.util.concurrent.ConcurrentHashMap<>();

    /** Registers a new agent through the API; its secret is kept in {@link #secrets}. */
    private static String register(String prefix, String capabilities, String roles) throws Exception {
        String id = Envelopes.uniqueAgent(prefix);
        HttpResponse<String> created = post("/api/agents", "{\"id\":\"" + id + "\",\"capabilities\":" + capabilities
                + ",\"roles\":" + roles + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        secrets.put(id, JSON.readTree(created.body()).get("secret").asText());
        return id;
    }

    /** A message for the agent, sent through REST; waits until it is on the agent's queue. */
    private static String deliverTo(String agent) throws Exception {
        String id = "for-" + agent;
        HttpResponse<String> accepted = broker.postMessage(Envelopes.withId(id, "rest-client", agent));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + agent) == 1);
        return id;
    }

    /** The agent receives its own message and may neither read another agent's queue nor send to it directly. */
    private static void assertOwnQueueOnly(Connection connection, String agent, String messageId) throws Exception {
        String other = register("other", "[]", "[]");
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + agent))) {
            Message copy = consumer.receive(30_000);
            assertThat(copy).as("the copy for %s", agent).isNotNull();
            assertThat(copy.getStringProperty("mas_id")).isEqualTo(messageId);
        }
        // core, qpid-jms (AMQP) and the OpenWire client all map the broker's refusal to JMSSecurityException
        assertThatThrownBy(() -> {
            Session theirs = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            theirs.createConsumer(theirs.createQueue("mas.agent." + other)).receive(2_000);
        }).isInstanceOf(JMSSecurityException.class).hasMessageContaining("permission='CONSUME'")
                .hasMessageContaining("mas.agent." + other);
        assertThatThrownBy(() -> {
            Session theirs = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            theirs.createProducer(theirs.createQueue("mas.agent." + other)).send(theirs.createTextMessage("not mine to send"));
        }).isInstanceOf(JMSSecurityException.class).hasMessageContaining("permission='SEND'")
                .hasMessageContaining("mas.agent." + other);
        assertThat(broker.depth("mas.agent." + other)).isZero();
        assertThat(broker.queueExists("mas.agent." + other)).isTrue();
    }

    private static ActiveMQConnectionFactory core() {
        return new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort());
    }

    private static org.apache.activemq.ActiveMQConnectionFactory openWire(String user, String password) {
        org.apache.activemq.ActiveMQConnectionFactory factory =
                new org.apache.activemq.ActiveMQConnectionFactory(user, password, "tcp://127.0.0.1:" + broker.brokerPort());
        factory.setWatchTopicAdvisories(false); // advisory topics are not the agents' to read
        return factory;
    }

    private static void startAndClose(Connection connection) throws JMSException {
        try {
            connection.start();
            connection.createSession(false, Session.AUTO_ACKNOWLEDGE).close();
        } finally {
            connection.close();
        }
    }

    private static MqttClient mqtt(String url, String clientId, String user, String password) throws MqttException {
        MqttClient client = new MqttClient(url, clientId, new MemoryPersistence());
        MqttConnectOptions options = new MqttConnectOptions();
        options.setCleanSession(true);
        options.setConnectionTimeout(30);
        if (user != null) {
            options.setUserName(user);
            options.setPassword(password.toCharArray());
        }
        try {
            client.connect(options);
        } catch (MqttException e) {
            client.close();
            throw e;
        }
        return client;
    }

    private static String ack(String id, String agent) {
        return "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"processed\"}";
    }

    private static Acknowledgments acks() {
        return broker.context().getRegistry().lookupByNameAndType("acks", Acknowledgments.class);
    }

    private static String recipientStatus(String id) throws Exception {
        HttpResponse<String> status = broker.get("/api/messages/" + id, RunningBroker.API_KEY);
        assertThat(status.statusCode()).as(status.body()).isEqualTo(200);
        return JSON.readTree(status.body()).get("recipients").get(0).get("status").asText();
    }

    private static final Pattern FAILURES = Pattern.compile("(?m)^mas_auth_failures_total\\{([^}]*)\\} ([0-9.eE+-]+)$");

    private static double failures(String protocol) throws Exception {
        Matcher sample = FAILURES.matcher(broker.get("/observe/metrics", null).body());
        double total = 0;
        while (sample.find()) {
            if (sample.group(1).contains("protocol=\"" + protocol + "\"")) {
                total += Double.parseDouble(sample.group(2));
            }
        }
        return total;
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return broker.post(path, RunningBroker.API_KEY, body.isEmpty() ? null : "application/json", body);
    }

    private static HttpResponse<String> delete(String path) throws Exception {
        return broker.send(HttpRequest.newBuilder(broker.uri(path)).header("X-API-Key", RunningBroker.API_KEY).DELETE());
    }
}
