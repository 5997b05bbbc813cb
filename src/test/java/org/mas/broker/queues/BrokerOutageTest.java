package org.mas.broker.queues;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.builder.AdviceWith;
import org.apache.camel.builder.NotifyBuilder;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.ExternalArtemis;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The broker goes away under a running router and comes back. The router runs against an external Artemis (in this
 * JVM, on its own TCP port and journal, as in production with broker_url set); that broker is stopped while the router
 * runs, with messages on mas.inbound that the router's consumers hold in flight, then started again on the same
 * journal. During the outage: REST answers 503 with Retry-After and a JSON error, /observe/health is DOWN, and what
 * was accepted is neither lost nor dead-lettered; files dropped in the inbox stay there. Afterwards: health UP, and
 * every message accepted before, during (files) and after the outage reaches its agent exactly once.
 */
@Timeout(300)
class BrokerOutageTest {

    private static final String HOLD = "outageHold";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private int port;

    @Test
    void theRouterSurvivesABrokerOutageAndResumesWithNothingLostOrDuplicated() throws Exception {
        port = AvailablePortFinder.getNextAvailable();
        EmbeddedActiveMQ artemis = startArtemis();
        Path data = dir.resolve("router-data");
        String agent = Envelopes.uniqueAgent("outage");
        List<String> expected = new ArrayList<>();
        CountDownLatch gate = new CountDownLatch(1);
        List<String> held = new CopyOnWriteArrayList<>();
        RunningBroker router = null;
        try {
            router = RunningBroker.start(data, Map.of("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + port));
            RunningBroker broker = router;
            // messages marked HOLD stop in the ingress until the gate opens: in flight on mas.inbound when the broker
            // goes away
            AdviceWith.adviceWith(router.context(), "ingress-jms", route -> route.weaveAddFirst().process(exchange -> {
                Message jms = exchange.getIn().getBody(Message.class);
                String id = jms.getStringProperty(HOLD);
                if (id != null) {
                    held.add(id + (jms.getJMSRedelivered() ? " (redelivered)" : ""));
                    gate.await(120, TimeUnit.SECONDS);
                }
            }));

            // before: five over REST, on the agent's queue at once
            for (int i = 0; i < 5; i++) {
                String id = "before-" + i + "-" + agent;
                assertThat(router.postMessage(Envelopes.withId(id, "a", agent)).statusCode()).isEqualTo(202);
                expected.add(id);
            }
            EmbeddedActiveMQ before = artemis;
            await().untilAsserted(() -> assertThat(depth(before, "mas.agent." + agent)).isEqualTo(5));
            // eight on mas.inbound, held in flight by the router's consumers
            try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port);
                 Connection connection = factory.createConnection()) {
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"));
                for (int i = 0; i < 8; i++) {
                    String id = "inbound-" + i + "-" + agent;
                    Message message = session.createTextMessage(Envelopes.withId(id, "a", agent));
                    message.setStringProperty(HOLD, id);
                    producer.send(message);
                    expected.add(id);
                }
            }
            await().until(() -> !held.isEmpty());
            assertThat(depth(artemis, "mas.inbound")).isEqualTo(8);

            // the broker goes away
            artemis.stop();
            gate.countDown(); // the held exchanges go on, against a broker that is not there

            // REST: 503, Retry-After, a JSON error without a stack trace
            long t0 = System.nanoTime();
            HttpResponse<String> refused = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
                    .newBuilder(router.uri("/api/messages")).timeout(Duration.ofSeconds(150))
                    .header("X-API-Key", RunningBroker.API_KEY).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(Envelopes.withId("refused-" + agent, "a", agent)))
                    .build(), HttpResponse.BodyHandlers.ofString());
            long refusedMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("outage: REST answered %d after %d ms%n", refused.statusCode(), refusedMs);
            // a client gives up long before that: the answer must come within a few seconds
            assertThat(refusedMs).as("ms until the 503").isLessThan(10_000);
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
            JsonNode error = JSON.readTree(refused.body());
            assertThat(error.get("error").asText()).isNotBlank();
            assertThat(refused.body()).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("org.apache");
            // health: DOWN
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(broker.get("/observe/health", null).body()).contains("DOWN"));
            // files dropped in the inbox meanwhile are kept there, not moved to .error
            NotifyBuilder filesTried = new NotifyBuilder(router.context()).fromRoute("ingress-file").whenDone(3).create();
            Path inbox = Files.createDirectories(data.resolve("inbox"));
            for (int i = 0; i < 3; i++) {
                String id = "file-" + i + "-" + agent;
                Path part = inbox.resolve(id + ".json.part");
                Files.writeString(part, Envelopes.withId(id, "a", agent));
                Files.move(part, inbox.resolve(id + ".json"));
                expected.add(id);
            }
            assertThat(filesTried.matches(60, TimeUnit.SECONDS)).as("the file ingress tried the three files").isTrue();
            List<String> inError = list(inbox.resolve(".error"));
            System.out.printf("outage: REST answered %d in %d ms; files in .error: %s; held in flight: %s%n",
                    refused.statusCode(), refusedMs, inError, held);
            assertThat(inError).as("files moved to .error during the outage").isEmpty();

            // the broker comes back on the same journal
            artemis = startArtemis();
            EmbeddedActiveMQ back = artemis;
            long t1 = System.nanoTime();
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(broker.get("/observe/health", null).body()).contains("UP").doesNotContain("DOWN"));
            System.out.printf("outage: health UP %d ms after the broker restarted%n", (System.nanoTime() - t1) / 1_000_000);
            for (int i = 0; i < 5; i++) {
                String id = "after-" + i + "-" + agent;
                HttpResponse<String> accepted = router.postMessage(Envelopes.withId(id, "a", agent));
                assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
                expected.add(id);
            }
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
                assertThat(depth(back, "mas.inbound")).isZero();
                assertThat(depth(back, "mas.agent." + agent)).isGreaterThanOrEqualTo(expected.size());
            });

            Map<String, Integer> seen = new HashMap<>();
            try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port);
                 Connection connection = factory.createConnection()) {
                connection.start();
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + agent))) {
                    for (Message m = consumer.receive(10_000); m != null; m = consumer.receive(1_000)) {
                        seen.merge(m.getStringProperty("mas_id"), 1, Integer::sum);
                    }
                }
            }
            System.out.printf("outage: %d ids on mas.agent.%s, %d expected; mas.dlq %d%n", seen.size(), agent,
                    expected.size(), depth(back, "mas.dlq"));
            assertThat(seen.keySet()).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(seen.values()).as("copies per id").containsOnly(1);
            assertThat(depth(back, "mas.dlq")).isZero();
            assertThat(list(inbox)).as("inbox after the outage").isEmpty();
            assertThat(list(inbox.resolve(".done"))).hasSize(3);
        } finally {
            gate.countDown();
            if (router != null) {
                router.close();
            }
            artemis.stop();
        }
    }

    private EmbeddedActiveMQ startArtemis() throws Exception {
        return ExternalArtemis.start(dir, port);
    }

    private static long depth(EmbeddedActiveMQ artemis, String queue) {
        Queue q = artemis.getActiveMQServer().locateQueue(SimpleString.of(queue));
        return q == null ? 0 : q.getMessageCount();
    }

    /** The regular files directly in a directory (none if it does not exist). */
    private static List<String> list(Path directory) throws Exception {
        if (!Files.isDirectory(directory)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
