package org.mas.broker.identity;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Connection;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The registry is in databases.queues: agents, secrets (as hashes), capabilities and disabling survive a restart. */
@Timeout(180)
class AgentRegistryRestartTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, String> SECURE = Map.of("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false");

    @TempDir
    Path dataDir;

    @Test
    void registeredAgentsSurviveARestart() throws Exception {
        String kept = Envelopes.uniqueAgent("kept");
        String dropped = Envelopes.uniqueAgent("dropped");
        String secret;
        String droppedSecret;
        try (RunningBroker broker = RunningBroker.start(dataDir, SECURE)) {
            secret = register(broker, kept, "[\"archiving\"]");
            droppedSecret = register(broker, dropped, "[]");
            HttpResponse<String> disabled = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri("/api/agents/" + dropped))
                    .header("X-API-Key", RunningBroker.API_KEY).DELETE());
            assertThat(disabled.statusCode()).isEqualTo(200);
        }
        assertThat(Files.exists(dataDir.resolve("db"))).isTrue();
        try (RunningBroker broker = RunningBroker.start(dataDir, SECURE)) {
            JsonNode agent = JSON.readTree(broker.get("/api/agents/" + kept, RunningBroker.API_KEY).body());
            assertThat(agent.get("enabled").asBoolean()).isTrue();
            assertThat(agent.get("capabilities").toString()).isEqualTo("[\"archiving\"]");
            assertThat(JSON.readTree(broker.get("/api/agents/" + dropped, RunningBroker.API_KEY).body()).get("enabled")
                    .asBoolean()).isFalse();
            assertThat(broker.queueExists("mas.agent." + kept)).isTrue();
            assertThat(broker.queueExists("mas.capability.archiving")).isTrue();
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort());
            try (Connection connection = factory.createConnection(kept, secret)) {
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                session.createConsumer(session.createQueue("mas.agent." + kept)).close();
                session.createConsumer(session.createQueue("mas.capability.archiving")).close();
            }
            assertThatThrownBy(() -> factory.createConnection(dropped, droppedSecret).close()).isInstanceOf(JMSSecurityException.class);
        }
    }

    private static String register(RunningBroker broker, String id, String capabilities) throws Exception {
        HttpResponse<String> created = broker.post("/api/agents", RunningBroker.API_KEY, "application/json",
                "{\"id\":\"" + id + "\",\"capabilities\":" + capabilities + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return JSON.readTree(created.body()).get("secret").asText();
    }
}
