package org.mas.broker.queues;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jakarta.jms.BytesMessage;
import jakarta.jms.DeliveryMode;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.MessageReference;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.utils.collections.LinkedListIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.ingress.JmsBodies;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * {@link DurableIngressPlugin} on the embedded broker: non-persistent sends to mas.inbound and mas.acks are stored
 * durable (seen on the broker's queue while the router's consumer is stopped), a message far over the size limit is
 * refused to its sender, and the router rejects an oversized TextMessage from its encoded size.
 */
class DurableIngressTest {

    private static final int MAX_MESSAGE_SIZE = 2048; // the broker refuses above 2 x 2048 + 64 KiB = 69,632 bytes

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(
            Map.of("MESSAGE_BROKER_MAX_MESSAGE_SIZE", String.valueOf(MAX_MESSAGE_SIZE)));

    @Test
    void nonPersistentSendsToInboundAreStoredDurable() throws Exception {
        assertStoredDurable("ingress-jms", "mas.inbound");
    }

    @Test
    void nonPersistentSendsToAcksAreStoredDurable() throws Exception {
        assertStoredDurable("acknowledgments-from-queue", "mas.acks");
    }

    /** With the route that consumes {@code queue} stopped, STOMP, MQTT QoS 0 and JMS NON_PERSISTENT sends. */
    private static void assertStoredDurable(String routeId, String queue) throws Exception {
        String marker = Envelopes.uniqueAgent("durable");
        String body = Envelopes.to(marker, marker);
        broker.context().getRouteController().stopRoute(routeId);
        try {
            // STOMP without persistent:true (stomp.py's default); the receipt comes once the broker has it
            try (RawStomp stomp = RawStomp.connect(broker.brokerPort())) {
                stomp.send("SEND", Map.of("destination", queue, "marker", marker, "receipt", "r1"), body, true);
                assertThat(stomp.read().command()).isEqualTo("RECEIPT");
            }
            // MQTT 3.1.1 QoS 0 (topic levels are separated by '/': mas/inbound is the address mas.inbound)
            mqttPublishQos0(broker.brokerPort(), queue.replace('.', '/'), body);
            // CORE JMS NON_PERSISTENT
            Session session = broker.session();
            try (MessageProducer producer = session.createProducer(session.createQueue(queue))) {
                producer.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
                TextMessage text = session.createTextMessage(body);
                text.setStringProperty("marker", marker);
                producer.send(text);
            } finally {
                session.close();
            }

            Queue serverQueue = broker.artemis().locateQueue(SimpleString.of(queue));
            await().untilAsserted(() -> assertThat(messagesWith(serverQueue, body)).hasSize(3));
            List<org.apache.activemq.artemis.api.core.Message> stored = messagesWith(serverQueue, body);
            assertThat(stored).allSatisfy(m -> assertThat(m.isDurable()).as("durable: %s", m).isTrue());
            assertThat(serverQueue.getDurableMessageCount()).isEqualTo(serverQueue.getMessageCount());
            System.out.printf("%s: %d non-persistent sends (STOMP, MQTT QoS 0, JMS), %d stored durable%n", queue,
                    stored.size(), stored.stream().filter(org.apache.activemq.artemis.api.core.Message::isDurable).count());
        } finally {
            broker.context().getRouteController().startRoute(routeId);
        }
        await().untilAsserted(() -> assertThat(broker.depth(queue)).isZero());
    }

    private static List<org.apache.activemq.artemis.api.core.Message> messagesWith(Queue queue, String body) {
        List<org.apache.activemq.artemis.api.core.Message> found = new ArrayList<>();
        try (LinkedListIterator<MessageReference> refs = queue.browserIterator()) {
            while (refs.hasNext()) {
                org.apache.activemq.artemis.api.core.Message m = refs.next().getMessage();
                if (bodyOf(m).contains(body)) {
                    found.add(m);
                }
            }
        }
        return found;
    }

    /** Text or bytes body of a server-side message, whichever protocol sent it. */
    private static String bodyOf(org.apache.activemq.artemis.api.core.Message m) {
        var buffer = m.toCore().getReadOnlyBodyBuffer();
        if (m.toCore().getType() == org.apache.activemq.artemis.api.core.Message.TEXT_TYPE) {
            SimpleString text = buffer.readNullableSimpleString();
            return text == null ? "" : text.toString();
        }
        byte[] bytes = new byte[buffer.readableBytes()];
        buffer.readBytes(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Test
    void theBrokerRefusesAMessageFarOverTheLimitAndStaysHealthy() throws Exception {
        String huge = "x".repeat(200_000); // over the broker's 69,632 bytes, and a large message for CORE and STOMP
        long inboundBefore = broker.depth("mas.inbound");
        long invalidBefore = broker.depth("mas.invalid");

        try (RawStomp stomp = RawStomp.connect(broker.brokerPort())) {
            stomp.send("SEND", Map.of("destination", "mas.inbound", "receipt", "big",
                    "content-length", String.valueOf(huge.length())), huge, true);
            RawStomp.Frame answer = stomp.read();
            System.out.printf("STOMP sender got %s %s: %s%n", answer.command(), answer.headers(), answer.body().strip());
            // Artemis's STOMP ERROR frame names the failed send, not the plugin's reason (that is in the broker's log)
            assertThat(answer.command()).isEqualTo("ERROR");
            assertThat(answer.headers()).containsEntry("receipt-id", "big");
            assertThat(answer.headers().get("message")).startsWith("AMQ339011 Error sending message");
        }

        Session session = broker.session();
        try (MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"))) {
            producer.setDeliveryMode(DeliveryMode.PERSISTENT); // a blocking send: the broker's answer reaches the sender
            BytesMessage bytes = session.createBytesMessage();
            bytes.writeBytes(huge.getBytes(StandardCharsets.UTF_8));
            assertThatThrownBy(() -> producer.send(bytes)).isInstanceOf(JMSException.class)
                    .hasMessageContaining("message too large for mas.inbound");
            TextMessage text = session.createTextMessage(huge);
            assertThatThrownBy(() -> producer.send(text)).isInstanceOf(JMSException.class)
                    .hasMessageContaining("message too large");
        } finally {
            session.close();
        }

        // nothing stored, no body file left behind, and the broker still routes
        assertThat(broker.depth("mas.inbound")).isEqualTo(inboundBefore);
        assertThat(broker.depth("mas.invalid")).isEqualTo(invalidBefore);
        Path largeMessages = broker.dataDir().resolve("artemis/large-messages");
        await().untilAsserted(() -> assertThat(filesIn(largeMessages)).isEmpty());
        String agent = Envelopes.uniqueAgent("after-refusal");
        broker.sendText("mas.inbound", Envelopes.to("planner", agent), Map.of());
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
    }

    @Test
    void anOversizedTextMessageGoesToInvalidSizedFromItsEncodedBody() throws Exception {
        String marker = Envelopes.uniqueAgent("big-text");
        String text = "{\"from_agent\":\"" + marker + "\",\"pad\":\"" + "y".repeat(3000) + "\"}";
        broker.sendText("mas.inbound", text, Map.of("marker", marker));

        Session session = broker.session();
        try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.invalid"), "marker = '" + marker + "'")) {
            Message invalid = consumer.receive(30_000);
            assertThat(invalid).isNotNull();
            // "characters": the reason comes from the encoded size (JmsBodies), not from a String the router read
            assertThat(invalid.getStringProperty("mas_error")).isEqualTo("message too large: " + text.length()
                    + " characters (at least as many bytes), the limit is " + MAX_MESSAGE_SIZE + " bytes");
            assertThat(invalid.getStringProperty("mas_ingress")).isEqualTo("jms");
            assertThat(((TextMessage) invalid).getText()).as("the oversized body is left out").isEmpty();
        } finally {
            session.close();
        }
    }

    @Test
    void jmsBodiesSizesTextAndBytesWithoutReadingThem() throws Exception {
        String queue = "mas.agent." + Envelopes.uniqueAgent("bodies");
        String small = "héllo";
        String large = "z".repeat(150_000); // 300,005 encoded bytes: streamed as a large message to the consumer
        Session session = broker.session();
        try (MessageProducer producer = session.createProducer(session.createQueue(queue));
             MessageConsumer consumer = session.createConsumer(session.createQueue(queue))) {
            producer.send(session.createTextMessage(small));
            producer.send(session.createTextMessage(large));
            BytesMessage bytes = session.createBytesMessage();
            bytes.writeBytes(new byte[1234]);
            producer.send(bytes);

            assertThat(JmsBodies.textLength((TextMessage) consumer.receive(10_000))).isEqualTo(small.length());
            TextMessage largeText = (TextMessage) consumer.receive(10_000);
            assertThat(JmsBodies.encodedBodySize(largeText)).isEqualTo(1 + 4 + 2L * large.length());
            assertThat(JmsBodies.textLength(largeText)).isEqualTo(large.length());
            assertThat(JmsBodies.encodedBodySize(consumer.receive(10_000))).isEqualTo(1234);
        } finally {
            session.close();
        }
    }

    private static List<Path> filesIn(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.toList();
        }
    }

    /** MQTT 3.1.1: CONNECT (clean session), PUBLISH at QoS 0, DISCONNECT; waits for CONNACK only. */
    private static void mqttPublishQos0(int port, String topic, String payload) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(15_000);
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] clientId = ("durable-test-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
            var connect = new java.io.ByteArrayOutputStream();
            connect.write(new byte[] {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60});
            writeString(connect, clientId);
            writePacket(out, 0x10, connect.toByteArray());
            assertThat(in.readUnsignedByte()).as("CONNACK").isEqualTo(0x20);
            assertThat(in.readUnsignedByte()).isEqualTo(2);
            in.readUnsignedByte();
            assertThat(in.readUnsignedByte()).as("connect return code").isZero();
            var publish = new java.io.ByteArrayOutputStream();
            writeString(publish, topic.getBytes(StandardCharsets.UTF_8));
            publish.write(payload.getBytes(StandardCharsets.UTF_8));
            writePacket(out, 0x30, publish.toByteArray()); // PUBLISH, QoS 0, no retain
            writePacket(out, 0xE0, new byte[0]); // DISCONNECT
        }
    }

    private static void writeString(java.io.ByteArrayOutputStream out, byte[] value) {
        out.write(value.length >> 8);
        out.write(value.length & 0xFF);
        out.writeBytes(value);
    }

    private static void writePacket(OutputStream out, int type, byte[] body) throws IOException {
        out.write(type);
        int length = body.length;
        do {
            int digit = length % 128;
            length /= 128;
            out.write(length > 0 ? digit | 0x80 : digit);
        } while (length > 0);
        out.write(body);
        out.flush();
    }
}
