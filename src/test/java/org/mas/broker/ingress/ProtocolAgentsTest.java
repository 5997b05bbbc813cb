package org.mas.broker.ingress;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.eclipse.paho.client.mqttv3.IMqttDeliveryToken;
import org.eclipse.paho.client.mqttv3.MqttCallback;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Agents on the other protocols of the one acceptor, end to end: the agent's client sends a requires_ack envelope to
 * mas.inbound, the addressed agent consumes its copy from mas.agent.&lt;id&gt; with the same protocol and acknowledges
 * it on mas.acks; the delivery ledger then shows the copy {@code acked}. AMQP 1.0 (Qpid JMS), OpenWire (the ActiveMQ
 * Classic client) and MQTT 3.1.1 (Eclipse Paho).
 */
@Timeout(120)
class ProtocolAgentsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void anAmqpAgentSendsReceivesAndAcknowledges() throws Exception {
        ConnectionFactory factory = new org.apache.qpid.jms.JmsConnectionFactory("amqp://127.0.0.1:" + broker.brokerPort());
        roundTripOverJms(factory, "amqp");
    }

    @Test
    void anOpenWireAgentSendsReceivesAndAcknowledges() throws Exception {
        org.apache.activemq.ActiveMQConnectionFactory factory =
                new org.apache.activemq.ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort());
        factory.setWatchTopicAdvisories(false);
        roundTripOverJms(factory, "openwire");
    }

    /** Sender and recipient are two agents of the same protocol, each with its own connection. */
    private static void roundTripOverJms(ConnectionFactory factory, String protocol) throws Exception {
        String sender = Envelopes.uniqueAgent(protocol + "-sender");
        String agent = Envelopes.uniqueAgent(protocol + "-agent");
        String id = protocol + "-" + agent;
        try (Connection senderConnection = factory.createConnection();
             Connection agentConnection = factory.createConnection()) {
            senderConnection.start();
            agentConnection.start();
            Session senderSession = senderConnection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = senderSession.createProducer(senderSession.createQueue("mas.inbound"))) {
                producer.send(senderSession.createTextMessage(envelope(id, sender, agent)));
            }

            Session agentSession = agentConnection.createSession(false, Session.CLIENT_ACKNOWLEDGE);
            Message copy;
            try (MessageConsumer consumer = agentSession.createConsumer(agentSession.createQueue("mas.agent." + agent))) {
                copy = consumer.receive(30_000);
                assertThat(copy).as("the copy for %s over %s", agent, protocol).isNotNull();
                assertThat(copy).isInstanceOf(TextMessage.class);
                JsonNode body = JSON.readTree(((TextMessage) copy).getText());
                assertThat(body.get("id").asText()).isEqualTo(id);
                assertThat(body.get("from_agent").asText()).isEqualTo(sender);
                assertThat(body.get("payload").get("protocol").asText()).isEqualTo(protocol);
                assertThat(copy.getStringProperty("mas_id")).isEqualTo(id);
                assertThat(copy.getStringProperty("mas_from")).isEqualTo(sender);
                assertThat(copy.getStringProperty("mas_type")).isEqualTo("request");
                assertThat(copy.getStringProperty("mas_ingress")).isEqualTo("jms");
                assertThat(copy.getJMSPriority()).isEqualTo(7); // priority "high" = 8, JMS 0..9
                copy.acknowledge();
            }
            try (MessageProducer acks = agentSession.createProducer(agentSession.createQueue("mas.acks"))) {
                acks.send(agentSession.createTextMessage(ack(id, agent)));
            }
            awaitAcked(id, agent);
            assertThat(broker.depth("mas.agent." + agent)).isZero();
        }
    }

    /**
     * MQTT: a publish to the topic {@code mas/inbound} reaches the address {@code mas.inbound} (Artemis turns MQTT's
     * '/' into its '.'), and the router accepts it. An MQTT subscription is a multicast queue of its own, so the agent
     * side reads the router's copy, which the router sends anycast to the agent's queue, through the fully qualified
     * queue name, written {@code mas/agent/<id>::mas/agent/<id>} in MQTT (an agent id
     * with a '.' writes it as '/'); its acknowledgment is published to {@code mas/acks}. The agent subscribes once its
     * queue exists: an MQTT subscription (plain or FQQN) made before that creates the address mas.agent.&lt;id&gt; as
     * MULTICAST only, and every copy for the agent is then dead-lettered ("does not support ANYCAST routing").
     */
    @Test
    void anMqttAgentSendsReceivesAndAcknowledges() throws Exception {
        String url = "tcp://127.0.0.1:" + broker.brokerPort();
        String sender = Envelopes.uniqueAgent("mqtt-sender");
        String agent = Envelopes.uniqueAgent("mqtt-agent");
        String id = "mqtt-" + agent;
        BlockingQueue<MqttMessage> received = new ArrayBlockingQueue<>(10);
        MqttClient senderClient = new MqttClient(url, sender, new MemoryPersistence());
        MqttClient agentClient = new MqttClient(url, agent, new MemoryPersistence());
        try {
            MqttConnectOptions options = new MqttConnectOptions();
            options.setCleanSession(true);
            options.setConnectionTimeout(15);
            senderClient.connect(options);
            agentClient.setCallback(new MqttCallback() {
                @Override
                public void connectionLost(Throwable cause) {
                }

                @Override
                public void messageArrived(String topic, MqttMessage message) {
                    received.add(message);
                }

                @Override
                public void deliveryComplete(IMqttDeliveryToken token) {
                }
            });
            agentClient.connect(options);

            senderClient.publish("mas/inbound", mqtt(envelope(id, sender, agent)));
            // the copy is queued on the agent's anycast queue
            await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1));

            // MQTT's '/' is Artemis's '.': this topic filter is the core FQQN mas.agent.<id>::mas.agent.<id>
            agentClient.subscribe("mas/agent/" + agent + "::mas/agent/" + agent, 1);
            MqttMessage copy = received.poll(30, TimeUnit.SECONDS);
            assertThat(copy).as("the copy for %s over MQTT", agent).isNotNull();
            JsonNode body = JSON.readTree(new String(copy.getPayload(), StandardCharsets.UTF_8));
            assertThat(body.get("id").asText()).isEqualTo(id);
            assertThat(body.get("payload").get("protocol").asText()).isEqualTo("mqtt");

            agentClient.publish("mas/acks", mqtt(ack(id, agent)));
            awaitAcked(id, agent);
            await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isZero());
        } finally {
            disconnect(senderClient);
            disconnect(agentClient);
        }
    }

    private static MqttMessage mqtt(String text) {
        MqttMessage message = new MqttMessage(text.getBytes(StandardCharsets.UTF_8));
        message.setQos(1);
        return message;
    }

    private static void disconnect(MqttClient client) {
        try {
            if (client.isConnected()) {
                client.disconnect(5_000);
            }
            client.close();
        } catch (Exception ignored) {
            // best effort
        }
    }

    private static String envelope(String id, String from, String to) {
        String protocol = id.substring(0, id.indexOf('-'));
        return "{\"id\":\"" + id + "\",\"from_agent\":\"" + from + "\",\"to_agent\":\"" + to
                + "\",\"message_type\":\"request\",\"payload\":{\"protocol\":\"" + protocol + "\"},"
                + "\"priority\":\"high\",\"requires_ack\":true}";
    }

    private static String ack(String id, String agent) {
        return "{\"id\":\"" + id + "\",\"agent\":\"" + agent + "\",\"status\":\"processed\"}";
    }

    private static void awaitAcked(String id, String agent) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            var response = broker.get("/api/messages/" + id, RunningBroker.API_KEY);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            JsonNode status = JSON.readTree(response.body());
            JsonNode recipients = status.get("recipients");
            assertThat(recipients).as(response.body()).hasSize(1);
            assertThat(recipients.get(0).get("agent").asText()).isEqualTo(agent);
            assertThat(recipients.get(0).get("status").asText()).as(response.body()).isEqualTo("acked");
        });
    }
}
