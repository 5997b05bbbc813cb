package org.mas.broker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.ChildProcesses;
import org.mas.broker.support.ExternalArtemis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The router's JVM is killed (SIGKILL) while it drains a 20,000-message backlog from mas.inbound, then started again:
 * every message id arrives at its agent queue exactly once. The broker is a separate Artemis (in this JVM) that
 * survives the crash, as in production; the router is the packaged jar with its default settings.
 */
class CrashRecoveryIT {

    private static final int MESSAGES = 20_000;
    private static final List<String> AGENTS = List.of("crash-a", "crash-b", "crash-c", "crash-d");

    @TempDir
    Path dir;

    @Test
    void aRouterKilledMidBacklogLosesAndDuplicatesNothing() throws Exception {
        int brokerPort = AvailablePortFinder.getNextAvailable();
        EmbeddedActiveMQ artemis = ExternalArtemis.start(dir, brokerPort);
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + brokerPort
                + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
             Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"));
            producer.setDeliveryMode(DeliveryMode.PERSISTENT);
            for (int i = 0; i < MESSAGES; i++) {
                producer.send(session.createTextMessage("{\"id\":\"crash-" + i + "\",\"from_agent\":\"loader\",\"to_agent\":\""
                        + AGENTS.get(i % AGENTS.size()) + "\",\"message_type\":\"event\",\"payload\":{\"n\":" + i + "}}"));
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> depth(artemis, "mas.inbound") == MESSAGES);

            Process router = startRouter(brokerPort, "first");
            boolean killed;
            try {
                // kill it once it is well into the backlog, and not done with it
                await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20))
                        .until(() -> agentQueuesDepth(artemis) >= MESSAGES / 5);
            } finally {
                killed = ChildProcesses.kill(router); // SIGKILL: no shutdown hook, no orderly commit
            }
            assertThat(killed).as("first router gone after SIGKILL").isTrue();
            long leftAtCrash = depth(artemis, "mas.inbound");
            System.out.printf("killed the router with %d of %d messages still on mas.inbound%n", leftAtCrash, MESSAGES);
            assertThat(leftAtCrash).as("killed mid-backlog").isPositive();

            Process again = startRouter(brokerPort, "second");
            try {
                // mas.inbound's count includes messages being delivered: 0 means every one is consumed and committed
                await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200))
                        .until(() -> depth(artemis, "mas.inbound") == 0);
            } finally {
                ChildProcesses.stop(again, Duration.ofSeconds(60)); // SIGTERM, then SIGKILL after 60 s
            }

            // both routers are gone: the agent queues hold all there will ever be, counted by the broker itself
            assertThat(agentQueuesDepth(artemis)).as("copies on the agent queues").isEqualTo(MESSAGES);
            Map<String, Integer> seen = new HashMap<>();
            for (String agent : AGENTS) {
                try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + agent))) {
                    for (Message m = consumer.receive(5_000); m != null; m = consumer.receive(1_000)) {
                        seen.merge(m.getStringProperty("mas_id"), 1, Integer::sum);
                    }
                }
            }
            assertThat(seen.values().stream().filter(n -> n > 1).count()).as("ids that arrived more than once").isZero();
            assertThat(seen).hasSize(MESSAGES);
            for (int i = 0; i < MESSAGES; i++) {
                assertThat(seen).containsKey("crash-" + i);
            }
            assertThat(depth(artemis, "mas.dlq")).isZero();
            assertThat(depth(artemis, "mas.invalid")).isZero();
        } finally {
            artemis.stop();
        }
    }

    private Process startRouter(int brokerPort, String name) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", "target/mas-message-broker.jar")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", dir.resolve("router-data").toString());
        builder.environment().put("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + brokerPort);
        // that broker runs without security (and without DurableIngressPlugin): nobody stamps who sent a message
        builder.environment().put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true");
        builder.environment().put("MAS_HTTP_PORT", String.valueOf(AvailablePortFinder.getNextAvailable()));
        return builder.start();
    }

    private static long depth(EmbeddedActiveMQ artemis, String queue) {
        Queue q = artemis.getActiveMQServer().locateQueue(SimpleString.of(queue));
        return q == null ? 0 : q.getMessageCount();
    }

    private static long agentQueuesDepth(EmbeddedActiveMQ artemis) {
        return AGENTS.stream().mapToLong(a -> depth(artemis, "mas.agent." + a)).sum();
    }
}
