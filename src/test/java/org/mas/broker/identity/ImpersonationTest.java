package org.mas.broker.identity;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An agent sends only as itself, on every protocol: the broker stamps the sender of everything that reaches
 * mas.inbound and mas.acks (Artemis's own validated user is not set on AMQP messages, so this is not left to it),
 * whatever the client wrote. Agent A sending as B, with or without a forged stamp, lands on mas.invalid with a reason
 * naming both; A acknowledging B's copy is refused.
 */
class ImpersonationTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false"));

    private static String register(String prefix) throws Exception {
        String id = Envelopes.uniqueAgent(prefix);
        secrets.put(id, broker.registerAgent(id));
        return id;
    }

    private static final Map<String, String> secrets = new HashMap<>();

    private static String asVictim(String id, String victim) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"" + victim + "\",\"to_agent\":\"" + victim
                + "\",\"message_type\":\"command\",\"payload\":{\"transfer\":\"everything\"}}";
    }

    /** Sends as {@code user}, with the stamps of {@code forged} written in by the client. */
    private static void sendJms(ConnectionFactory factory, String user, String queue, String text, String forged) throws Exception {
        try (Connection connection = factory.createConnection(user, secrets.get(user))) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageProducer producer = session.createProducer(session.createQueue(queue));
            Message message = session.createTextMessage(text);
            // forged stamps: the broker's own name for the sender, and Artemis's
            message.setStringProperty("mas_sender", forged);
            message.setStringProperty("_AMQ_VALIDATED_USER", forged);
            producer.send(message);
        }
    }

    @Test
    void anAgentSendingAsAnotherLandsOnMasInvalidOnEveryProtocol() throws Exception {
        String attacker = register("attacker");
        String victim = register("victim");
        int port = broker.brokerPort();
        Map<String, String> sentBy = new HashMap<>();

        sendJms(new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port), attacker, "mas.inbound", asVictim("core-" + attacker, victim), victim);
        sentBy.put("core-" + attacker, "core");
        sendJms(new org.apache.qpid.jms.JmsConnectionFactory("amqp://127.0.0.1:" + port), attacker, "mas.inbound",
                asVictim("amqp-" + attacker, victim), victim);
        sentBy.put("amqp-" + attacker, "amqp");
        org.apache.activemq.ActiveMQConnectionFactory openWire = new org.apache.activemq.ActiveMQConnectionFactory(
                "tcp://127.0.0.1:" + port + "?jms.watchTopicAdvisories=false");
        sendJms(openWire, attacker, "mas.inbound", asVictim("openwire-" + attacker, victim), victim);
        sentBy.put("openwire-" + attacker, "openwire");
        try (RawStomp stomp = RawStomp.connect(port, attacker, secrets.get(attacker))) {
            stomp.send("SEND", Map.of("destination", "mas.inbound", "receipt", "r", "mas_sender", victim,
                    "_AMQ_VALIDATED_USER", victim), asVictim("stomp-" + attacker, victim), true);
            assertThat(stomp.read().command()).isEqualTo("RECEIPT");
        }
        sentBy.put("stomp-" + attacker, "stomp");
        MqttClient mqtt = new MqttClient("tcp://127.0.0.1:" + port, "mqtt-" + attacker, new MemoryPersistence());
        MqttConnectOptions options = new MqttConnectOptions();
        options.setUserName(attacker);
        options.setPassword(secrets.get(attacker).toCharArray());
        mqtt.connect(options);
        try {
            MqttMessage message = new MqttMessage(asVictim("mqtt-" + attacker, victim).getBytes(StandardCharsets.UTF_8));
            message.setQos(1);
            mqtt.publish("mas/inbound", message);
        } finally {
            mqtt.disconnect();
            mqtt.close();
        }
        sentBy.put("mqtt-" + attacker, "mqtt");

        await().untilAsserted(() -> assertThat(broker.depth("mas.invalid")).isGreaterThanOrEqualTo(sentBy.size()));
        Map<String, String> reasons = new HashMap<>();
        for (Message invalid : broker.receive("mas.invalid", 100)) {
            String body = invalid.getBody(String.class) == null ? "" : invalid.getBody(String.class);
            for (String id : sentBy.keySet()) {
                if (body.contains("\"" + id + "\"")) {
                    reasons.put(id, invalid.getStringProperty("mas_error"));
                    assertThat(invalid.getStringProperty("mas_sender")).as("who really sent it").isEqualTo(attacker);
                }
            }
        }
        assertThat(reasons.keySet()).as("every protocol's forged message is on mas.invalid").isEqualTo(sentBy.keySet());
        reasons.forEach((id, reason) -> assertThat(reason).as(sentBy.get(id))
                .contains("from_agent '" + victim + "' is not the authenticated agent '" + attacker + "'"));
        assertThat(broker.depth("mas.agent." + victim)).as("nothing reached the victim").isZero();
    }

    @Test
    void anAgentAcknowledgingAnothersCopyIsRefusedOverAmqp() throws Exception {
        String attacker = register("acker");
        String victim = register("owner");
        String id = "owned-" + victim;
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + victim
                + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}").statusCode()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + victim) == 1);
        sendJms(new org.apache.qpid.jms.JmsConnectionFactory("amqp://127.0.0.1:" + broker.brokerPort()), attacker,
                "mas.acks", "{\"id\":\"" + id + "\",\"agent\":\"" + victim + "\",\"status\":\"rejected\"}", victim);
        // the ack was consumed from mas.acks and refused: the copy still waits for its recipient's acknowledgment
        await().until(() -> broker.depth("mas.acks") == 0);
        JsonNode status = JSON.readTree(broker.get("/api/messages/" + id, RunningBroker.API_KEY).body());
        assertThat(status.get("recipients").get(0).get("status").asText()).as(status.toString()).isEqualTo("queued");
        List<String> events = new java.util.ArrayList<>();
        status.get("timeline").forEach(event -> events.add(event.get("event").asText()));
        assertThat(events).doesNotContain("rejected", "dead_lettered");
    }

    @Test
    void aLoginCheckedBeforeARotationLosesEveryPermission() throws Exception {
        // a login that raced a rotation (or a disabling), or that Artemis still caches, is refused from then on
        String agent = register("racer");
        var manager = (org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager5) broker.artemis().getSecurityManager();
        javax.security.auth.Subject subject = manager.authenticate(agent, secrets.get(agent), null, null);
        var roles = broker.artemis().getSecurityRepository().getMatch("mas.agent." + agent);
        assertThat(manager.authorize(subject, roles, org.apache.activemq.artemis.core.security.CheckType.CONSUME,
                "mas.agent." + agent)).isTrue();
        HttpResponse<String> rotated = broker.post("/api/agents/" + agent + "/secret", RunningBroker.API_KEY,
                "application/json", "");
        assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
        assertThat(manager.authorize(subject, roles, org.apache.activemq.artemis.core.security.CheckType.CONSUME,
                "mas.agent." + agent)).isFalse();
    }

    @Test
    void aBroadcastReachesRegisteredAgentsOnlyNotQueuesMadeForMadeUpIds() throws Exception {
        String sender = register("caster");
        String listener = register("listener");
        String ghost = Envelopes.uniqueAgent("ghost");
        // anyone may address an id nobody registered: the router makes its queue, where the message waits
        assertThat(broker.postMessage("{\"from_agent\":\"" + sender + "\",\"to_agent\":\"" + ghost
                + "\",\"message_type\":\"event\",\"payload\":{}}").statusCode()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + ghost) == 1);
        String id = "cast-" + sender;
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"" + sender + "\",\"to_agent\":\"broadcast\","
                + "\"message_type\":\"broadcast\",\"payload\":{}}").statusCode()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + listener) == 1);
        JsonNode status = JSON.readTree(broker.get("/api/messages/" + id, RunningBroker.API_KEY).body());
        List<String> recipients = new java.util.ArrayList<>();
        status.get("recipients").forEach(r -> recipients.add(r.get("agent").asText()));
        assertThat(recipients).contains(listener).doesNotContain(ghost, sender);
        assertThat(broker.depth("mas.agent." + ghost)).isEqualTo(1);
    }
}
