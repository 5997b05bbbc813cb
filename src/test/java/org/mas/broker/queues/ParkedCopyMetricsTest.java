package org.mas.broker.queues;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A copy whose send failed and that was parked on mas.dlq is not a delivery: not routed, no queued latency. */
class ParkedCopyMetricsTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    private static double series(String name) throws Exception {
        return broker.get("/observe/metrics", null).body().lines().filter(line -> line.startsWith(name + " "))
                .mapToDouble(line -> Double.parseDouble(line.substring(name.length() + 1))).findFirst().orElse(0);
    }

    @Test
    void aParkedCopyIsCountedAsDeadLetteredOnly() throws Exception {
        String agent = Envelopes.uniqueAgent("full");
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"max_depth\":1}").statusCode()).isEqualTo(201);
        assertThat(broker.postMessage(Envelopes.withId("fits-" + agent, "planner", agent)).statusCode()).isEqualTo(202);
        double routed = series("mas_messages_routed_total{target_kind=\"agent_queue\"}");
        double latencies = series("mas_delivery_latency_seconds_count{stage=\"queued\"}");
        double parked = series("mas_messages_dead_lettered_total{reason=\"delivery_error\"}");

        // the queue is full: the send is refused, retried, then the copy is parked
        assertThat(broker.postMessage(Envelopes.withId("parked-" + agent, "planner", agent)).statusCode()).isEqualTo(202);
        assertThat(broker.deadLetter("parked-" + agent)).isNotNull();

        await().until(() -> series("mas_messages_dead_lettered_total{reason=\"delivery_error\"}") == parked + 1);
        assertThat(series("mas_messages_routed_total{target_kind=\"agent_queue\"}")).isEqualTo(routed);
        assertThat(series("mas_delivery_latency_seconds_count{stage=\"queued\"}")).isEqualTo(latencies);
    }
}
