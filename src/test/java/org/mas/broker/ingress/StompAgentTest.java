package org.mas.broker.ingress;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An agent that is not written in Java: it speaks STOMP 1.2 over a plain socket (what stomp.py does), sends an
 * envelope to mas.inbound and receives it from its own queue with the contract's headers.
 */
class StompAgentTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());



    @Test
    void everyProtocolIsServedOnTheOneAcceptor() {
        assertThat(broker.artemis().getRemotingService().getProtocolFactoryMap().keySet())
                .contains("CORE", "AMQP", "STOMP", "MQTT", "OPENWIRE");
    }

    @Test
    void aStompAgentSendsToInboundAndReceivesFromItsQueue() throws Exception {
        String agent = Envelopes.uniqueAgent("py");
        try (RawStomp stomp = RawStomp.connect(broker.brokerPort())) {
            stomp.send("SUBSCRIBE", Map.of("id", "0", "destination", "mas.agent." + agent, "ack", "client-individual"), null, true);
            String envelope = "{\"id\":\"stomp-" + agent + "\",\"from_agent\":\"" + agent + "\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"event\",\"payload\":{\"lang\":\"python\"},\"priority\":\"critical\"}";
            // with content-length, as stomp.py sends it
            stomp.send("SEND", Map.of("destination", "mas.inbound", "content-type", "application/json", "receipt", "sent-1",
                    "content-length", String.valueOf(envelope.getBytes(StandardCharsets.UTF_8).length)), envelope, true);
            RawStomp.Frame receipt = stomp.read();
            assertThat(receipt.command()).isEqualTo("RECEIPT");

            RawStomp.Frame message = stomp.read();
            assertThat(message.command()).isEqualTo("MESSAGE");
            assertThat(message.headers()).containsEntry("mas_id", "stomp-" + agent)
                    .containsEntry("mas_from", agent)
                    .containsEntry("mas_type", "event")
                    .containsEntry("mas_requires_ack", "false")
                    .containsEntry("priority", "9");
            assertThat(message.body()).contains("\"lang\":\"python\"").contains("\"priority\":10");
            stomp.send("ACK", Map.of("id", message.headers().get("ack")), null, true);
            stomp.send("DISCONNECT", Map.of("receipt", "bye"), null, true);
            assertThat(stomp.read().command()).isEqualTo("RECEIPT");
        }
    }

    @Test
    void envelopesWithoutAnIdEachGetTheirOwn() throws Exception {
        // STOMP (like MQTT) gives no JMS message id: each message still gets an id of its own, not one derived from null
        String agent = Envelopes.uniqueAgent("no-id");
        try (RawStomp stomp = RawStomp.connect(broker.brokerPort())) {
            for (int i = 0; i < 3; i++) {
                String envelope = "{\"from_agent\":\"" + agent + "\",\"to_agent\":\"" + agent
                        + "\",\"message_type\":\"event\",\"payload\":{\"n\":" + i + "}}";
                stomp.send("SEND", Map.of("destination", "mas.inbound", "content-type", "application/json",
                        "receipt", "r-" + i), envelope, true);
                assertThat(stomp.read().command()).isEqualTo("RECEIPT");
            }
        }
        org.awaitility.Awaitility.await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + agent)).isEqualTo(3));
        java.util.List<jakarta.jms.Message> received = broker.receiveExactly("mas.agent." + agent, 3);
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (jakarta.jms.Message message : received) {
            ids.add(message.getStringProperty("mas_id"));
        }
        assertThat(ids).hasSize(3);
        assertThat(broker.depth("mas.invalid")).isZero();
    }
}
