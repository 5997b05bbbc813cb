package org.mas.broker.queues;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class QueueApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());



    private static JsonNode get(String path, int status) throws Exception {
        HttpResponse<String> response = broker.get(path, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JSON.readTree(response.body());
    }

    private static HttpResponse<String> delete(String path) throws Exception {
        return broker.send(HttpRequest.newBuilder(broker.uri(path)).header("X-API-Key", RunningBroker.API_KEY).DELETE());
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return broker.post(path, RunningBroker.API_KEY, "application/json", body);
    }

    @Test
    void everyMasQueueIsListedWithDepthConsumersAndCounters() throws Exception {
        String agent = Envelopes.uniqueAgent("listed");
        broker.postMessage(Envelopes.to("a", agent));
        broker.postMessage(Envelopes.to("a", agent));

        await().untilAsserted(() -> {
            JsonNode queues = get("/api/queues", 200).get("queues");
            assertThat(queues.findValuesAsText("name")).contains("mas.inbound", "mas.dlq", "mas.acks", "mas.agent." + agent);
            for (JsonNode queue : queues) {
                if (queue.get("name").asText().equals("mas.agent." + agent)) {
                    assertThat(queue.get("agent").asText()).isEqualTo(agent);
                    assertThat(queue.get("depth").asLong()).isEqualTo(2);
                    assertThat(queue.get("added").asLong()).isEqualTo(2);
                    assertThat(queue.get("consumers").asInt()).isZero();
                }
                if (queue.get("name").asText().equals("mas.inbound")) {
                    assertThat(queue.get("consumers").asInt()).isPositive();
                }
            }
        });
        assertThat(broker.get("/api/queues", null).statusCode()).isEqualTo(401);
    }

    @Test
    void anAgentQueueIsCreatedOnceAndItsMaxDepthHolds() throws Exception {
        String agent = Envelopes.uniqueAgent("created");
        HttpResponse<String> created = post("/api/queues", "{\"agent\":\"" + agent + "\",\"max_depth\":2,\"ttl\":600}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(JSON.readTree(created.body()).get("name").asText()).isEqualTo("mas.agent." + agent);
        assertThat(post("/api/queues", "{\"agent\":\"" + agent + "\"}").statusCode()).isEqualTo(409);
        assertThat(post("/api/queues", "{\"agent\":\"bad agent\"}").statusCode()).isEqualTo(400);
        assertThat(post("/api/queues", "{\"agent\":\"ok\",\"max_depth\":-1}").statusCode()).isEqualTo(400);

        for (int i = 0; i < 3; i++) {
            broker.postMessage(Envelopes.withId("deep-" + i + "-" + agent, "a", agent));
        }
        await().untilAsserted(() -> assertThat(get("/api/queues/mas.agent." + agent, 200).get("depth").asLong()).isEqualTo(2));
        assertThat(broker.receiveOne("mas.dlq")).isNotNull();
    }

    @Test
    void namesOutsideMasAreRefusedAndUnknownOnesAre404() throws Exception {
        assertThat(broker.get("/api/queues/activemq.management", RunningBroker.API_KEY).statusCode()).isEqualTo(400);
        assertThat(delete("/api/queues/DLQ").statusCode()).isEqualTo(400);
        assertThat(delete("/api/queues/mas.dlq?force=true").statusCode()).isEqualTo(400);
        assertThat(post("/api/queues/mas.inbound/purge", "").statusCode()).isEqualTo(400);
        assertThat(get("/api/queues/mas.dlq", 200).get("name").asText()).isEqualTo("mas.dlq");
        assertThat(broker.get("/api/queues/mas.agent.nobody-here", RunningBroker.API_KEY).statusCode()).isEqualTo(404);
        assertThat(delete("/api/queues/mas.agent.nobody-here").statusCode()).isEqualTo(404);
    }

    @Test
    void noQueueIsMadeForANameTheBrokerReserves() throws Exception {
        for (String reserved : new String[] {"mas-router", "broadcast", "capability:planning"}) {
            HttpResponse<String> refused = post("/api/queues", "{\"agent\":\"" + reserved + "\"}");
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(400);
            JsonNode body = JSON.readTree(refused.body());
            assertThat(body.get("error").asText()).isEqualTo("invalid queue request");
            assertThat(body.get("details").get(0).asText()).startsWith("$.agent: '" + reserved + "' is reserved");
            assertThat(broker.get("/api/queues/mas.agent." + reserved, RunningBroker.API_KEY).statusCode()).isEqualTo(404);
        }
        HttpResponse<String> missing = post("/api/queues", "{\"agent\":5}");
        assertThat(missing.statusCode()).isEqualTo(400);
        assertThat(missing.body()).contains("$.agent: required, a string");
    }

    @Test
    void aQueueWithMessagesIsDeletedOnlyWhenForcedOrPurgedFirst() throws Exception {
        String agent = Envelopes.uniqueAgent("full");
        String other = Envelopes.uniqueAgent("purged");
        broker.postMessage(Envelopes.to("a", agent));
        broker.postMessage(Envelopes.to("a", other));
        broker.postMessage(Envelopes.to("a", other));
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent." + other)).isEqualTo(2));

        assertThat(delete("/api/queues/mas.agent." + agent).statusCode()).isEqualTo(409);
        HttpResponse<String> forced = delete("/api/queues/mas.agent." + agent + "?force=true");
        assertThat(forced.statusCode()).isEqualTo(200);
        assertThat(broker.queueExists("mas.agent." + agent)).isFalse();

        HttpResponse<String> purged = post("/api/queues/mas.agent." + other + "/purge", "");
        assertThat(purged.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(purged.body()).get("purged").asLong()).isEqualTo(2);
        assertThat(delete("/api/queues/mas.agent." + other).statusCode()).isEqualTo(200);
        assertThat(broker.queueExists("mas.agent." + other)).isFalse();
    }
}
