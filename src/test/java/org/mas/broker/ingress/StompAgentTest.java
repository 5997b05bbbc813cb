package org.mas.broker.ingress;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
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
        try (Socket socket = new Socket("127.0.0.1", broker.brokerPort())) {
            socket.setSoTimeout(15_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            frame(out, "CONNECT", Map.of("accept-version", "1.2", "host", "localhost"), "");
            assertThat(readFrame(in).command).isEqualTo("CONNECTED");

            frame(out, "SUBSCRIBE", Map.of("id", "0", "destination", "mas.agent." + agent, "ack", "client-individual"), "");
            String envelope = "{\"id\":\"stomp-" + agent + "\",\"from_agent\":\"" + agent + "\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"event\",\"payload\":{\"lang\":\"python\"},\"priority\":\"critical\"}";
            frame(out, "SEND", Map.of("destination", "mas.inbound", "content-type", "application/json",
                    "receipt", "sent-1"), envelope);
            Frame receipt = readFrame(in);
            assertThat(receipt.command).isEqualTo("RECEIPT");

            Frame message = readFrame(in);
            assertThat(message.command).isEqualTo("MESSAGE");
            assertThat(message.headers).containsEntry("mas_id", "stomp-" + agent)
                    .containsEntry("mas_from", agent)
                    .containsEntry("mas_type", "event")
                    .containsEntry("mas_requires_ack", "false")
                    .containsEntry("priority", "9");
            assertThat(message.body).contains("\"lang\":\"python\"").contains("\"priority\":10");
            frame(out, "ACK", Map.of("id", message.headers.get("ack")), "");
            frame(out, "DISCONNECT", Map.of("receipt", "bye"), "");
            assertThat(readFrame(in).command).isEqualTo("RECEIPT");
        }
    }

    private static void frame(OutputStream out, String command, Map<String, String> headers, String body) throws IOException {
        StringBuilder frame = new StringBuilder(command).append('\n');
        headers.forEach((k, v) -> frame.append(k).append(':').append(v).append('\n'));
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (!body.isEmpty()) {
            frame.append("content-length:").append(bytes.length).append('\n');
        }
        frame.append('\n');
        out.write(frame.toString().getBytes(StandardCharsets.UTF_8));
        out.write(bytes);
        out.write(0);
        out.flush();
    }

    private record Frame(String command, Map<String, String> headers, String body) {
    }

    private static Frame readFrame(InputStream in) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == 0) {
                break;
            }
            buffer.write(b);
        }
        String raw = buffer.toString(StandardCharsets.UTF_8).replaceFirst("^\\n+", "");
        int split = raw.indexOf("\n\n");
        String head = split < 0 ? raw : raw.substring(0, split);
        String body = split < 0 ? "" : raw.substring(split + 2);
        String[] lines = head.split("\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.putIfAbsent(lines[i].substring(0, colon), lines[i].substring(colon + 1));
        }
        return new Frame(lines[0], headers, body);
    }
}
