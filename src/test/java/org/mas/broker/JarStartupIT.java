package org.mas.broker;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import jakarta.jms.Connection;
import jakarta.jms.Message;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.ChildProcesses;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The packaged broker as an operator runs it: {@code java -jar target/mas-message-broker.jar} from the project root. */
class JarStartupIT {

    @TempDir
    Path dataDir;

    @Test
    void theJarStartsOnItsEmbeddedDefaultServesAndStopsOnSigterm() throws Exception {
        int httpPort = AvailablePortFinder.getNextAvailable();
        int brokerPort = AvailablePortFinder.getNextAvailable();
        Path log = dataDir.resolve("broker.log");
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", "target/mas-message-broker.jar")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", dataDir.resolve("data").toString());
        builder.environment().put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true"); // its agents connect without credentials
        builder.environment().put("MAS_HTTP_PORT", String.valueOf(httpPort));
        builder.environment().put("MAS_EMBEDDED_BROKER_ACCEPTOR",
                "tcp://127.0.0.1:" + brokerPort + "?protocols=CORE,AMQP,STOMP,MQTT,OPENWIRE");
        HttpClient http = HttpClient.newHttpClient();
        long started = System.nanoTime();
        Process broker = builder.start();
        boolean stoppedOnSigterm;
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> get(http, httpPort, "/observe/health").contains("UP"));
            System.out.printf("jar ready in %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));

            HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + httpPort + "/api/messages"))
                    .header("X-API-Key", "mas-dev-key-change-me").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"from_agent\":\"ops\",\"to_agent\":\"jar-agent\","
                            + "\"message_type\":\"event\",\"payload\":{}}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(accepted.statusCode()).isEqualTo(202);
            try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + brokerPort);
                 Connection connection = factory.createConnection()) {
                connection.start();
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                Message message = session.createConsumer(session.createQueue("mas.agent.jar-agent")).receive(10_000);
                assertThat(message).isNotNull();
                assertThat(message.getStringProperty("mas_from")).isEqualTo("ops");
            }
            List<String> lines = Files.readAllLines(log);
            assertThat(lines).anyMatch(l -> l.contains("Embedded Artemis 2.56.0 started") && l.contains("OPENWIRE"));
            assertThat(lines).anyMatch(l -> l.contains("development API key"));
            assertThat(lines).noneMatch(l -> l.contains("OpenWire is not available"));
        } finally {
            // SIGTERM (Camel Main shuts down in order), 60 s for it, then SIGKILL whatever is left: even if the test failed
            stoppedOnSigterm = ChildProcesses.stop(broker, Duration.ofSeconds(60));
        }
        assertThat(stoppedOnSigterm).as("stopped after SIGTERM").isTrue();
        assertThat(Files.readString(log)).contains("Embedded Artemis stopped");
    }

    private static String get(HttpClient http, int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException | InterruptedException e) {
            return "";
        }
    }
}
