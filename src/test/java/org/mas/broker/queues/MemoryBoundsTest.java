package org.mas.broker.queues;

import java.time.Instant;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What traffic leaves behind in memory goes when it no longer matters: queue gauges, clean-up's sightings. */
class MemoryBoundsTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_ROUTING_INTERVAL", "1",
            "MESSAGE_BROKER_IDLE_QUEUE_TIMEOUT", "3600"));

    @Test
    void aDeletedQueueTakesItsGaugesWithIt() throws Exception {
        String agent = Envelopes.uniqueAgent("gauged");
        String series = "mas_queue_depth{queue=\"mas.agent." + agent + "\"}";
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + agent + "\"}")
                .statusCode()).isEqualTo(201);
        await().until(() -> broker.get("/observe/metrics", null).body().contains(series));

        var deleted = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri("/api/queues/mas.agent." + agent))
                .header("X-API-Key", RunningBroker.API_KEY).DELETE());
        assertThat(deleted.statusCode()).isEqualTo(200);
        await().until(() -> !broker.get("/observe/metrics", null).body().contains(series));
        assertThat(broker.get("/observe/metrics", null).body()).doesNotContain("mas_queue_consumers{queue=\"mas.agent." + agent);
    }

    @Test
    void sightingsOlderThanTheIdleTimeoutAreForgottenAtTheNextCleanUp() throws Exception {
        QueueCleanup cleanup = broker.context().getRegistry().lookupByNameAndType("queueCleanup", QueueCleanup.class);
        int before = cleanup.sightings();
        Instant longAgo = Instant.now().minusSeconds(7200);
        for (int i = 0; i < 1_000; i++) {
            cleanup.agentSeen("passer-by-" + i, longAgo); // senders that came once and never again
        }
        cleanup.agentSeen("regular", Instant.now());
        assertThat(cleanup.sightings()).isGreaterThanOrEqualTo(before + 1_001);

        cleanup.run();

        assertThat(cleanup.sightings()).isLessThanOrEqualTo(before + 1);
    }
}
