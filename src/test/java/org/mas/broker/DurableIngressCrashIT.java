package org.mas.broker;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.ChildProcesses;
import org.mas.broker.support.RawStomp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The packaged jar on its embedded broker takes non-persistent STOMP sends (stomp.py's default: no
 * {@code persistent:true}) with receipts, is killed with SIGKILL mid-stream, and is started again on the same data
 * directory: every message whose RECEIPT came back reaches its agent queue. The first run has one ingress consumer, so
 * that a backlog sits on mas.inbound at the kill: that is what a non-durable message would not survive.
 */
class DurableIngressCrashIT {

    private static final int MESSAGES = 3_000;
    private static final int IN_FLIGHT = 200; // unreceipted frames the sender allows itself
    private static final List<String> AGENTS = List.of("durable-a", "durable-b", "durable-c", "durable-d");
    private static final String API_KEY = "mas-dev-key-change-me";

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void everyReceiptedStompMessageSurvivesAKillOfTheBroker() throws Exception {
        int httpPort = AvailablePortFinder.getNextAvailable();
        int brokerPort = AvailablePortFinder.getNextAvailable();
        Set<String> receipted = ConcurrentHashMap.newKeySet();
        AtomicInteger sent = new AtomicInteger();
        Semaphore inFlight = new Semaphore(IN_FLIGHT);
        Process first = start(httpPort, brokerPort, "first", 1);
        Process second = null;
        Thread sender = null;
        Thread reader = null;
        try {
            awaitHealthy(httpPort);
            RawStomp stomp = RawStomp.connect(brokerPort);
            reader = new Thread(() -> {
                try {
                    while (true) {
                        RawStomp.Frame frame = stomp.read();
                        if ("RECEIPT".equals(frame.command())) {
                            receipted.add(frame.headers().get("receipt-id"));
                            inFlight.release();
                        }
                    }
                } catch (IOException e) {
                    // the broker died: no more receipts
                }
            }, "stomp-receipts");
            sender = new Thread(() -> {
                try {
                    for (int i = 0; i < MESSAGES; i++) {
                        if (!inFlight.tryAcquire(30, TimeUnit.SECONDS)) {
                            return; // no receipts any more: the broker is gone
                        }
                        String id = "dur-" + i;
                        stomp.send("SEND", Map.of("destination", "mas.inbound", "content-type", "application/json",
                                "receipt", id), "{\"id\":\"" + id + "\",\"from_agent\":\"py-sender\",\"to_agent\":\""
                                + AGENTS.get(i % AGENTS.size()) + "\",\"message_type\":\"event\",\"payload\":{\"n\":" + i + "}}",
                                i % 20 == 19);
                        sent.incrementAndGet();
                    }
                    stomp.flush();
                } catch (IOException | InterruptedException e) {
                    // the broker died mid-stream
                }
            }, "stomp-sender");
            reader.setDaemon(true);
            sender.setDaemon(true);
            reader.start();
            sender.start();

            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                    .until(() -> receipted.size() >= MESSAGES / 2);
            long backlog = inboundDepth(httpPort);
            long killedAt = System.nanoTime();
            // SIGKILL to the child's pid: no shutdown hook, no journal flush
            assertThat(ChildProcesses.kill(first)).as("first run gone after SIGKILL").isTrue();
            reader.join(30_000);
            sender.join(30_000);
            stomp.close();
            Set<String> receiptedAtKill = new HashSet<>(receipted);
            System.out.printf("killed the broker (pid %d) after %d sent, %d receipted; mas.inbound held about %d%n",
                    first.pid(), sent.get(), receiptedAtKill.size(), backlog);

            second = start(httpPort, brokerPort, "second", 4);
            awaitHealthy(httpPort);
            Set<String> arrived = ConcurrentHashMap.newKeySet();
            try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + brokerPort);
                 Connection connection = factory.createConnection()) {
                connection.start();
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                List<MessageConsumer> consumers = new java.util.ArrayList<>();
                for (String agent : AGENTS) {
                    consumers.add(session.createConsumer(session.createQueue("mas.agent." + agent)));
                }
                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100)).until(() -> {
                    for (MessageConsumer consumer : consumers) {
                        for (Message m = consumer.receiveNoWait(); m != null; m = consumer.receiveNoWait()) {
                            arrived.add(m.getStringProperty("mas_id"));
                        }
                    }
                    return arrived.containsAll(receiptedAtKill);
                });
            } finally {
                Set<String> lost = new HashSet<>(receiptedAtKill);
                lost.removeAll(arrived);
                System.out.printf("sent %d, receipted %d, arrived %d, lost %d (%d s from the kill)%n", sent.get(),
                        receiptedAtKill.size(), arrived.size(), lost.size(),
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - killedAt));
                assertThat(lost).as("receipted but lost").isEmpty();
            }
        } finally {
            ChildProcesses.kill(first); // (already gone unless the test failed before the kill)
            if (second != null) {
                ChildProcesses.stop(second, Duration.ofSeconds(30)); // SIGTERM, then SIGKILL after 30 s
            }
        }
    }

    private Process start(int httpPort, int brokerPort, String name, int ingressConsumers) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", "target/mas-message-broker.jar")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", dir.resolve("data").toString());
        builder.environment().put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true"); // its agents connect without credentials
        builder.environment().put("MAS_HTTP_PORT", String.valueOf(httpPort));
        builder.environment().put("MAS_EMBEDDED_BROKER_ACCEPTOR",
                "tcp://127.0.0.1:" + brokerPort + "?protocols=CORE,AMQP,STOMP,MQTT,OPENWIRE");
        builder.environment().put("MAS_INGRESS_JMS_CONCURRENT_CONSUMERS", String.valueOf(ingressConsumers));
        return builder.start();
    }

    private void awaitHealthy(int httpPort) {
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                .until(() -> get(httpPort, "/observe/health", null).contains("UP"));
    }

    /** mas.inbound's depth from the REST API, -1 if it does not answer. */
    private long inboundDepth(int httpPort) {
        String body = get(httpPort, "/api/queues/mas.inbound", API_KEY);
        java.util.regex.Matcher depth = java.util.regex.Pattern.compile("\"depth\"\\s*:\\s*(\\d+)").matcher(body);
        return depth.find() ? Long.parseLong(depth.group(1)) : -1;
    }

    private String get(int port, String path, String apiKey) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(10));
            if (apiKey != null) {
                request.header("X-API-Key", apiKey);
            }
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException | InterruptedException e) {
            return "";
        }
    }
}
