package org.mas.broker.queues;

import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The broker's own series on /observe/metrics after known traffic. */
class MetricsTest {

    @TempDir
    Path dataDir;

    @Test
    void knownTrafficShowsInTheMasSeries() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_ROUTING_INTERVAL", "1"))) {
            // first, while no agent is known: unroutable
            broker.postMessage("{\"from_agent\":\"hermit\",\"to_agent\":\"broadcast\",\"message_type\":\"event\",\"payload\":{}}");
            String agent = Envelopes.uniqueAgent("counted");
            for (int i = 0; i < 3; i++) {
                assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
            }
            assertThat(broker.postMessage("{\"from_agent\":\"a\"}").statusCode()).isEqualTo(400);

            await().untilAsserted(() -> {
                String metrics = broker.get("/observe/metrics", null).body();
                assertThat(metrics)
                        .contains("mas_messages_received_total{ingress=\"rest\"} 5.0")
                        .contains("mas_messages_invalid_total{ingress=\"rest\"} 1.0")
                        .contains("mas_messages_routed_total{target_kind=\"agent_queue\"} 3.0")
                        .contains("mas_deliveries_total{outcome=\"queued\"} 3.0")
                        .contains("mas_messages_dead_lettered_total{reason=\"unroutable\"} 1.0")
                        .contains("mas_queue_depth{queue=\"mas.agent." + agent + "\"} 3.0")
                        .contains("mas_queue_consumers{queue=\"mas.inbound\"} 4.0")
                        .contains("mas_delivery_latency_seconds_bucket{stage=\"queued\"");
            });
            String exported = broker.get("/observe/metrics", null).body();
            assertThat(org.mas.broker.monitoring.BrokerMetrics.EXPORTED).allSatisfy(name -> assertThat(exported).contains(name));
            JsonNode stats = new ObjectMapper().readTree(broker.get("/api/stats", RunningBroker.API_KEY).body());
            // (the 1-minute window is the current clock minute: it may have just begun, so it is not asserted exactly)
            assertThat(stats.get("windows").get("1m").get("delivered").asLong()).isBetween(0L, 3L);
            for (String window : new String[] {"5m", "15m"}) {
                JsonNode w = stats.get("windows").get(window);
                assertThat(w.get("received").asLong()).isEqualTo(5);
                assertThat(w.get("delivered").asLong()).isEqualTo(3);
                assertThat(w.get("failed").asLong()).isEqualTo(1);
                assertThat(w.get("failure_rate").asDouble()).isEqualTo(0.25);
                assertThat(w.get("throughput_per_s").asDouble()).isPositive();
                assertThat(w.get("latency_ms").get("p99").asDouble()).isPositive();
            }
            assertThat(broker.get("/api/stats", null).statusCode()).isEqualTo(401);

            // accepted -> acked: only copies that require an acknowledgment, measured when it arrives
            assertThat(broker.get("/observe/metrics", null).body()).doesNotContain("stage=\"acked\"");
            String worker = Envelopes.uniqueAgent("acking");
            assertThat(broker.postMessage("{\"id\":\"metrics-ack-1\",\"from_agent\":\"a\",\"to_agent\":\"" + worker
                    + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}").statusCode()).isEqualTo(202);
            assertThat(broker.receiveOne("mas.agent." + worker)).isNotNull();
            assertThat(broker.post("/api/messages/metrics-ack-1/ack", RunningBroker.API_KEY, "application/json",
                    "{\"agent\":\"" + worker + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);
            assertThat(broker.get("/observe/metrics", null).body())
                    .contains("mas_delivery_latency_seconds_count{stage=\"acked\"} 1")
                    .contains("mas_deliveries_total{outcome=\"acked\"} 1.0");
        }
    }
}
