package org.mas.broker.queues;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The broker's own series on /observe/metrics after known traffic: every counter is exported from start-up (at 0), so
 * each is asserted as an exact difference between before and after, and every mas_ counter the traffic should not
 * touch must not have moved.
 */
class MetricsTest {

    /** One sample line of the Prometheus text format: series (name and labels) and value. */
    private static final Pattern SAMPLE = Pattern.compile("^(mas_[a-z_]+(?:\\{[^}]*})?) ([-+0-9.Ee]+|NaN)$", Pattern.MULTILINE);

    private static final String RECEIVED_REST = "mas_messages_received_total{ingress=\"rest\"}";
    private static final String INVALID_REST = "mas_messages_invalid_total{ingress=\"rest\"}";
    private static final String ROUTED_AGENT_QUEUE = "mas_messages_routed_total{target_kind=\"agent_queue\"}";
    private static final String QUEUED = "mas_deliveries_total{outcome=\"queued\"}";
    private static final String ACKED = "mas_deliveries_total{outcome=\"acked\"}";
    private static final String DEAD_LETTERED = "mas_deliveries_total{outcome=\"dead_lettered\"}";
    private static final String DEAD_UNROUTABLE = "mas_messages_dead_lettered_total{reason=\"unroutable\"}";
    private static final String QUEUED_LATENCY_COUNT = "mas_delivery_latency_seconds_count{stage=\"queued\"}";
    private static final String ACKED_LATENCY_COUNT = "mas_delivery_latency_seconds_count{stage=\"acked\"}";

    @TempDir
    Path dataDir;

    private static Map<String, Double> series(RunningBroker broker) throws Exception {
        Map<String, Double> values = new HashMap<>();
        Matcher sample = SAMPLE.matcher(broker.get("/observe/metrics", null).body());
        while (sample.find()) {
            values.put(sample.group(1), Double.parseDouble(sample.group(2)));
        }
        return values;
    }

    /** What every mas_ counter moved by between two scrapes; a series absent before counts from 0. */
    private static Map<String, Double> counterDeltas(Map<String, Double> before, Map<String, Double> after) {
        Map<String, Double> deltas = new HashMap<>();
        after.forEach((series, value) -> {
            // singleton jobs run with time (alert evaluation every routing_interval), not with traffic
            if (series.contains("_total") && !series.startsWith("mas_singleton_job_runs_total")) {
                deltas.put(series, value - before.getOrDefault(series, 0.0));
            }
        });
        return deltas;
    }

    private static void assertOnlyTheseCountersMoved(Map<String, Double> deltas, Map<String, Double> expected) {
        expected.forEach((series, delta) -> assertThat(deltas.get(series)).as(series).isEqualTo(delta));
        deltas.forEach((series, delta) -> {
            if (!expected.containsKey(series)) {
                assertThat(delta).as("%s (not touched by this traffic)", series).isZero();
            }
        });
    }

    @Test
    void knownTrafficShowsInTheMasSeries() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_ROUTING_INTERVAL", "1"))) {
            Map<String, Double> before = series(broker);
            assertThat(counterDeltas(Map.of(), before)).as("counters at start-up").isNotEmpty();
            // exported from start-up, at 0: alert rules see a series before the first event
            for (String counter : new String[] {RECEIVED_REST, INVALID_REST, ROUTED_AGENT_QUEUE, QUEUED, ACKED, DEAD_UNROUTABLE}) {
                assertThat(before).as(counter).containsEntry(counter, 0.0);
            }
            // the 1-minute window of /api/stats is the current clock minute: the traffic starts at least 15 s before
            // its end, so that it and the query below fall in one minute and the window can be asserted exactly
            long startMinute = System.currentTimeMillis() / 60_000;
            if (System.currentTimeMillis() % 60_000 > 45_000) {
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                        .until(() -> System.currentTimeMillis() / 60_000 > startMinute);
            }
            long trafficMinute = System.currentTimeMillis() / 60_000;

            // first, while no agent is known: unroutable
            broker.postMessage("{\"from_agent\":\"hermit\",\"to_agent\":\"broadcast\",\"message_type\":\"event\",\"payload\":{}}");
            String agent = Envelopes.uniqueAgent("counted");
            for (int i = 0; i < 3; i++) {
                assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
            }
            assertThat(broker.postMessage("{\"from_agent\":\"a\"}").statusCode()).isEqualTo(400);

            // the counters move before each answer; the queue gauges follow every routing_interval (1 s)
            await().untilAsserted(() -> {
                Map<String, Double> after = series(broker);
                assertThat(after).containsEntry("mas_queue_depth{queue=\"mas.agent." + agent + "\"}", 3.0)
                        .containsEntry("mas_queue_consumers{queue=\"mas.inbound\"}", 4.0);
            });
            Map<String, Double> after = series(broker);
            assertOnlyTheseCountersMoved(counterDeltas(before, after), Map.of(RECEIVED_REST, 5.0, INVALID_REST, 1.0,
                    ROUTED_AGENT_QUEUE, 3.0, QUEUED, 3.0, DEAD_LETTERED, 1.0, DEAD_UNROUTABLE, 1.0));
            assertThat(after.get(QUEUED_LATENCY_COUNT) - before.getOrDefault(QUEUED_LATENCY_COUNT, 0.0)).isEqualTo(3.0);
            String exported = broker.get("/observe/metrics", null).body();
            assertThat(org.mas.broker.monitoring.BrokerMetrics.EXPORTED).allSatisfy(name -> assertThat(exported).contains(name));

            JsonNode stats = new ObjectMapper().readTree(broker.get("/api/stats", RunningBroker.API_KEY).body());
            boolean oneMinute = System.currentTimeMillis() / 60_000 == trafficMinute;
            for (String window : oneMinute ? new String[] {"1m", "5m", "15m"} : new String[] {"5m", "15m"}) {
                JsonNode w = stats.get("windows").get(window);
                assertThat(w.get("received").asLong()).as(window).isEqualTo(5);
                assertThat(w.get("delivered").asLong()).as(window).isEqualTo(3);
                assertThat(w.get("failed").asLong()).as(window).isEqualTo(1);
                assertThat(w.get("failure_rate").asDouble()).as(window).isEqualTo(0.25);
                // 3 deliveries over the seconds since start-up (at least 1): more than 0, at most 3 per second
                assertThat(w.get("throughput_per_s").asDouble()).as(window).isPositive().isLessThanOrEqualTo(3.0);
                assertThat(w.get("latency_ms").get("p99").asDouble()).as(window).isPositive();
            }
            if (!oneMinute) { // only if the traffic took over 15 s: the minute changed under it
                assertThat(stats.get("windows").get("1m").get("delivered").asLong()).isBetween(0L, 3L);
            }
            assertThat(broker.get("/api/stats", null).statusCode()).isEqualTo(401);

            // accepted -> acked: only copies that require an acknowledgment, measured when it arrives
            assertThat(after).doesNotContainKey(ACKED_LATENCY_COUNT);
            String worker = Envelopes.uniqueAgent("acking");
            assertThat(broker.postMessage("{\"id\":\"metrics-ack-1\",\"from_agent\":\"a\",\"to_agent\":\"" + worker
                    + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}").statusCode()).isEqualTo(202);
            assertThat(broker.receiveOne("mas.agent." + worker)).isNotNull();
            assertThat(broker.post("/api/messages/metrics-ack-1/ack", RunningBroker.API_KEY, "application/json",
                    "{\"agent\":\"" + worker + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);
            Map<String, Double> acked = series(broker);
            // the GET /api/stats without a key above is a failed authentication
            assertOnlyTheseCountersMoved(counterDeltas(after, acked), Map.of(RECEIVED_REST, 1.0, ROUTED_AGENT_QUEUE, 1.0,
                    QUEUED, 1.0, ACKED, 1.0, "mas_auth_failures_total{protocol=\"rest\"}", 1.0));
            assertThat(acked).containsEntry(ACKED_LATENCY_COUNT, 1.0);
        }
    }
}
