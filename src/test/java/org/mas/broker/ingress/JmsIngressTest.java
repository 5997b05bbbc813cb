package org.mas.broker.ingress;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import jakarta.jms.BytesMessage;
import jakarta.jms.Message;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.camel.builder.NotifyBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class JmsIngressTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());



    @Test
    void textEnvelopeOnInboundReachesTheAgentQueue() throws Exception {
        String agent = Envelopes.uniqueAgent("worker");
        broker.sendText("mas.inbound", Envelopes.withId("jms-1-" + agent, "planner", agent), Map.of());

        TextMessage message = (TextMessage) broker.receiveOne("mas.agent." + agent);
        assertThat(message).isNotNull();
        assertThat(message.getStringProperty("mas_id")).isEqualTo("jms-1-" + agent);
        assertThat(message.getStringProperty("mas_from")).isEqualTo("planner");
        assertThat(message.getStringProperty("mas_ingress")).isEqualTo("jms");
        assertThat(message.getText()).contains("\"priority\":5").contains("\"ttl\":300");
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
    }

    @Test
    void bytesEnvelopeIsAcceptedToo() throws Exception {
        String agent = Envelopes.uniqueAgent("worker");
        Session session = broker.session();
        BytesMessage bytes = session.createBytesMessage();
        bytes.writeBytes(Envelopes.to("planner", agent).getBytes(StandardCharsets.UTF_8));
        session.createProducer(session.createQueue("mas.inbound")).send(bytes);

        Message message = broker.receiveOne("mas.agent." + agent);
        assertThat(message).isNotNull();
        assertThat(message.getStringProperty("mas_from")).isEqualTo("planner");
    }

    @Test
    void invalidEnvelopeGoesUnchangedToInvalidQueueWithTheReason() throws Exception {
        String marker = Envelopes.uniqueAgent("bad");
        String body = "{\"from_agent\":\"" + marker + "\",\"message_type\":\"nonsense\"}";
        broker.sendText("mas.inbound", body, Map.of());

        TextMessage invalid = (TextMessage) receiveMatching("mas.invalid", marker);
        assertThat(invalid.getText()).isEqualTo(body);
        assertThat(invalid.getStringProperty("mas_ingress")).isEqualTo("jms");
        assertThat(invalid.getStringProperty("mas_error"))
                .startsWith("envelope does not match the schema")
                .contains("$.message_type").contains("payload").contains("to_agent");
        assertThat(invalid.getJMSExpiration()).isZero();
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
    }

    /** Set by {@link Probe#readObject}: proof that nobody deserialized an ObjectMessage. */
    static final AtomicBoolean DESERIALIZED = new AtomicBoolean();

    static class Probe implements Serializable {
        private static final long serialVersionUID = 1L;

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            DESERIALIZED.set(true);
            in.defaultReadObject();
        }
    }

    @Test
    void objectMessageIsRejectedWithoutBeingDeserialized() throws Exception {
        String marker = Envelopes.uniqueAgent("object");
        Session session = broker.session();
        Message object = session.createObjectMessage(new Probe());
        object.setStringProperty("marker", marker);
        session.createProducer(session.createQueue("mas.inbound")).send(object);

        Message invalid = receiveMatching("mas.invalid", marker);
        assertThat(invalid.getStringProperty("mas_error")).contains("unsupported JMS message type ObjectMessage");
        assertThat(DESERIALIZED).isFalse();
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
    }

    @Test
    void jmsPropertiesNamedCamelInAnyCaseDoNotSteerRouting() throws Exception {
        String agent = Envelopes.uniqueAgent("target");
        String evil = Envelopes.uniqueAgent("evil");
        broker.sendText("mas.inbound", Envelopes.to("a", agent), Map.of(
                "CamelJmsDestinationName", "mas.agent." + evil,
                "cAmElJmsDestinationName", "mas.agent." + evil,
                "CAMELJMSDESTINATIONNAME", "mas.agent." + evil,
                "camelHttpUri", "http://127.0.0.1:1/",
                "mas_recipients", evil,
                "mas_target", "mas.agent." + evil));

        Message delivered = broker.receiveOne("mas.agent." + agent);
        assertThat(delivered).isNotNull();
        assertThat(delivered.getStringProperty("mas_target")).isEqualTo("mas.agent." + agent);
        assertThat(delivered.propertyExists("cAmElJmsDestinationName")).isFalse();
        assertThat(delivered.propertyExists("CAMELJMSDESTINATIONNAME")).isFalse();
        assertThat(broker.queueExists("mas.agent." + evil)).isFalse();
    }

    @Test
    void aResentMessageIsQueuedOnceAndNothingLoops() throws Exception {
        String agent = Envelopes.uniqueAgent("dup");
        String envelope = Envelopes.withId("dup-" + agent, "a", agent);
        NotifyBuilder twoDone = new NotifyBuilder(broker.context()).fromRoute("ingress-jms")
                .filter(e -> e.getIn().getBody(String.class) != null && e.getIn().getBody(String.class).contains(agent))
                .whenCompleted(2).create();

        broker.sendText("mas.inbound", envelope, Map.of());
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1));
        broker.sendText("mas.inbound", envelope, Map.of());

        await().atMost(Duration.ofSeconds(20)).until(() -> twoDone.matches());
        await().untilAsserted(() -> assertThat(broker.depth("mas.inbound")).isZero());
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
        assertThat(broker.receive("mas.agent." + agent, 5)).hasSize(1);
        assertThat(countMatching("mas.dlq", agent)).isZero();
    }

    @Test
    void higherPriorityIsConsumedFirst() throws Exception {
        String agent = Envelopes.uniqueAgent("prio");
        for (String priority : List.of("1", "\"low\"", "\"critical\"", "5")) {
            broker.sendText("mas.inbound", "{\"from_agent\":\"a\",\"to_agent\":\"" + agent + "\",\"message_type\":\"event\","
                    + "\"payload\":{\"p\":" + priority + "},\"priority\":" + priority + "}", Map.of());
        }
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isEqualTo(4));

        List<Message> messages = broker.receive("mas.agent." + agent, 4);
        assertThat(messages).extracting(Message::getJMSPriority).containsExactly(9, 4, 2, 0);
    }

    @Test
    void toAgentsFansOutAndTheExampleRuleCopiesAuditTasksToTheAuditor() throws Exception {
        String one = Envelopes.uniqueAgent("one");
        String two = Envelopes.uniqueAgent("two");
        long auditorBefore = broker.depth("mas.agent.auditor");
        broker.sendText("mas.inbound", "{\"from_agent\":\"a\",\"to_agents\":[\"" + one + "\",\"" + two + "\"],"
                + "\"message_type\":\"command\",\"payload\":{\"task_type\":\"audit\"}}", Map.of());

        assertThat(broker.receiveOne("mas.agent." + one)).isNotNull();
        assertThat(broker.receiveOne("mas.agent." + two)).isNotNull();
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent.auditor")).isEqualTo(auditorBefore + 1));
    }

    @Test
    void broadcastReachesEveryKnownAgentButTheSender() throws Exception {
        String sender = Envelopes.uniqueAgent("sender");
        String listener = Envelopes.uniqueAgent("listener");
        broker.sendText("mas.inbound", Envelopes.to("a", listener), Map.of());
        broker.sendText("mas.inbound", Envelopes.to("a", sender), Map.of());
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + sender)).isEqualTo(1));
        broker.receive("mas.agent." + listener, 1);
        broker.receive("mas.agent." + sender, 1);
        org.mas.broker.routing.AgentDirectory directory = broker.context().getRegistry()
                .lookupByNameAndType("agentDirectory", org.mas.broker.routing.AgentDirectory.class);
        directory.invalidate();

        broker.sendText("mas.inbound", "{\"from_agent\":\"" + sender + "\",\"to_agent\":\"broadcast\","
                + "\"message_type\":\"broadcast\",\"payload\":{}}", Map.of());

        Message received = broker.receiveOne("mas.agent." + listener);
        assertThat(received).isNotNull();
        assertThat(received.getStringProperty("mas_type")).isEqualTo("broadcast");
        assertThat(broker.depth("mas.agent." + sender)).isZero();
    }

    private static Message receiveMatching(String queue, String marker) throws Exception {
        Session session = broker.session();
        try (var consumer = session.createConsumer(session.createQueue(queue))) {
            return receiveMatching(consumer, marker);
        } finally {
            session.close();
        }
    }

    private static Message receiveMatching(jakarta.jms.MessageConsumer consumer, String marker) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (System.currentTimeMillis() < deadline) {
            Message message = consumer.receive(1_000);
            if (message == null) {
                continue;
            }
            String text = message instanceof TextMessage t ? t.getText() : "";
            if (marker.equals(message.getStringProperty("marker")) || (text != null && text.contains(marker))) {
                return message;
            }
        }
        throw new AssertionError("no message with " + marker);
    }

    private static int countMatching(String queue, String marker) throws Exception {
        Session session = broker.session();
        var browser = session.createBrowser(session.createQueue(queue));
        int count = 0;
        for (var e = browser.getEnumeration(); e.hasMoreElements();) {
            Message m = (Message) e.nextElement();
            if (m instanceof TextMessage t && t.getText() != null && t.getText().contains(marker)) {
                count++;
            }
        }
        return count;
    }

}
