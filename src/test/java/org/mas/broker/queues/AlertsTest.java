package org.mas.broker.queues;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** queue_size = 2, routing_interval = 1 s: one event when a queue crosses it, one when it recovers. */
class AlertsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;

    @Test
    void aDeepQueueFiresOnceAndResolvesOnce() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_ROUTING_INTERVAL", "1",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_QUEUE_SIZE", "2"))) {
            List<JsonNode> events = new CopyOnWriteArrayList<>();
            Session session = broker.session();
            MessageConsumer subscriber = session.createConsumer(session.createTopic("mas.alerts"));
            subscriber.setMessageListener(message -> {
                try {
                    events.add(JSON.readTree(((TextMessage) message).getText()));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            String agent = Envelopes.uniqueAgent("deep");
            String queue = "mas.agent." + agent;
            for (int i = 0; i < 3; i++) {
                broker.postMessage(Envelopes.to("a", agent));
            }

            await().untilAsserted(() -> assertThat(about(events, queue)).hasSize(1));
            JsonNode firing = about(events, queue).get(0);
            assertThat(firing.get("alert").asText()).isEqualTo("queue_size");
            assertThat(firing.get("state").asText()).isEqualTo("firing");
            assertThat(firing.get("value").asDouble()).isEqualTo(3.0);
            assertThat(firing.get("threshold").asDouble()).isEqualTo(2.0);
            assertThat(firing.has("severity")).isTrue();
            assertThat(firing.has("at")).isTrue();
            // no storm: still one event after several more evaluations
            await().during(Duration.ofMillis(3500)).atMost(Duration.ofSeconds(6))
                    .untilAsserted(() -> assertThat(about(events, queue)).hasSize(1));
            JsonNode listed = JSON.readTree(broker.get("/api/alerts", RunningBroker.API_KEY).body());
            assertThat(listed.get("active").findValuesAsText("subject")).contains(queue);

            broker.post("/api/queues/" + queue + "/purge", RunningBroker.API_KEY, "application/json", "");

            await().untilAsserted(() -> assertThat(about(events, queue)).hasSize(2));
            assertThat(about(events, queue).get(1).get("state").asText()).isEqualTo("resolved");
            JsonNode after = JSON.readTree(broker.get("/api/alerts", RunningBroker.API_KEY).body());
            assertThat(after.get("active").findValuesAsText("subject")).doesNotContain(queue);
            assertThat(after.get("history").findValuesAsText("state")).contains("firing", "resolved");
            assertThat(broker.get("/api/alerts", null).statusCode()).isEqualTo(401);
            subscriber.close();
            session.close();
        }
    }

    private static List<JsonNode> about(List<JsonNode> events, String subject) {
        return events.stream().filter(e -> e.get("subject").asText().equals(subject)).toList();
    }
}
