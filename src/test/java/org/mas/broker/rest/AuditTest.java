package org.mas.broker.rest;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Every operate and admin call leaves one audit record, whatever its outcome, readable at GET /api/audit. */
class AuditTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_API_KEYS", ApiScopesTest.KEYS));

    @Test
    void queueOperationsAreAuditedWithTheKeysNameAndTheQueue() throws Exception {
        String agent = Envelopes.uniqueAgent("audited");
        String queue = "mas.agent." + agent;
        assertThat(broker.post("/api/queues", ApiScopesTest.OPERATOR, "application/json", "{\"agent\":\"" + agent + "\"}")
                .statusCode()).isEqualTo(201);
        assertThat(broker.post("/api/queues/" + queue + "/purge", ApiScopesTest.OPERATOR, "application/json", "")
                .statusCode()).isEqualTo(200);
        assertThat(delete("/api/queues/" + queue, ApiScopesTest.OPERATOR).statusCode()).isEqualTo(200);
        assertThat(broker.post("/api/queues/" + queue + "/purge", ApiScopesTest.OPERATOR, "application/json", "")
                .statusCode()).isEqualTo(404);

        // written before the answer: no waiting
        List<JsonNode> records = records("?actor=operator", queue);
        assertThat(records).hasSize(4);
        JsonNode notFound = records.get(0); // newest first
        assertThat(notFound.get("method").asText()).isEqualTo("POST");
        assertThat(notFound.get("path").asText()).isEqualTo("/api/queues/" + queue + "/purge");
        assertThat(notFound.get("status").asInt()).isEqualTo(404);
        assertThat(notFound.get("detail").asText()).isEqualTo("unknown queue: no queue named " + queue);
        assertThat(records.get(1).get("method").asText()).isEqualTo("DELETE");
        JsonNode purge = records.get(2);
        assertThat(purge.get("actor").asText()).isEqualTo("operator");
        assertThat(purge.get("scope").asText()).isEqualTo("operate");
        assertThat(purge.get("target").asText()).isEqualTo(queue);
        assertThat(purge.get("status").asInt()).isEqualTo(200);
        assertThat(purge.get("detail").isNull()).isTrue();
        assertThat(purge.get("at").asText()).endsWith("Z");
        JsonNode create = records.get(3);
        assertThat(create.get("path").asText()).isEqualTo("/api/queues");
        assertThat(create.get("target").asText()).isEqualTo(queue);
        assertThat(create.get("status").asInt()).isEqualTo(201);
    }

    @Test
    void deadLetterOperationsAndRefusedCallsAreAuditedToo() throws Exception {
        String agent = Envelopes.uniqueAgent("dlq-audit");
        String id = "audit-dead-" + agent;
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}").statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"rejected\"}").statusCode()).isEqualTo(200);
        await().until(() -> JSON.readTree(broker.get("/api/dlq?agent=" + agent, RunningBroker.API_KEY).body()).get("total").asInt() == 1);

        assertThat(delete("/api/dlq/" + id, ApiScopesTest.READER).statusCode()).isEqualTo(403);
        assertThat(delete("/api/dlq/" + id, RunningBroker.API_KEY).statusCode()).isEqualTo(200);

        List<JsonNode> records = records("", id);
        assertThat(records).hasSize(2);
        JsonNode deleted = records.get(0);
        assertThat(deleted.get("actor").asText()).isEqualTo("api-key-1");
        assertThat(deleted.get("method").asText()).isEqualTo("DELETE");
        assertThat(deleted.get("path").asText()).isEqualTo("/api/dlq/" + id);
        assertThat(deleted.get("target").asText()).isEqualTo(id);
        assertThat(deleted.get("status").asInt()).isEqualTo(200);
        JsonNode refused = records.get(1);
        assertThat(refused.get("actor").asText()).isEqualTo("reader");
        assertThat(refused.get("scope").asText()).isEqualTo("operate");
        assertThat(refused.get("status").asInt()).isEqualTo(403);
        assertThat(refused.get("detail").asText()).isEqualTo("forbidden: API key 'reader' lacks the scope 'operate' for DELETE /api/dlq/" + id);
    }

    @Test
    void readsAndUnauthenticatedCallsAreNotAudited() throws Exception {
        String agent = Envelopes.uniqueAgent("not-audited");
        assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
        assertThat(broker.get("/api/queues/mas.agent." + agent, RunningBroker.API_KEY).statusCode()).isEqualTo(200);
        assertThat(broker.post("/api/queues/mas.agent." + agent + "/purge", null, "application/json", "").statusCode()).isEqualTo(401);

        assertThat(records("", agent)).isEmpty();
    }

    @Test
    void theTrailIsFilteredByActorAndTimeAndLimited() throws Exception {
        String agent = Envelopes.uniqueAgent("filtered");
        for (int i = 0; i < 3; i++) {
            assertThat(broker.post("/api/queues/mas.agent." + agent + "/purge", ApiScopesTest.OPERATOR, "application/json", "")
                    .statusCode()).isEqualTo(404);
        }
        JsonNode one = trail("?actor=operator&limit=1");
        assertThat(one.get("events")).hasSize(1);
        assertThat(one.get("events").get(0).get("actor").asText()).isEqualTo("operator");
        assertThat(trail("?actor=nobody").get("events")).isEmpty();
        assertThat(trail("?since=2999-01-01T00:00:00Z").get("events")).isEmpty();
        assertThat(records("?since=2000-01-01T00:00:00Z", agent)).hasSize(3);

        HttpResponse<String> bad = broker.get("/api/audit?limit=501&since=yesterday", RunningBroker.API_KEY);
        assertThat(bad.statusCode()).isEqualTo(400);
        JsonNode error = JSON.readTree(bad.body());
        assertThat(error.get("error").asText()).isEqualTo("invalid query");
        assertThat(error.get("details")).hasSize(2);
    }

    /** The records (newest first) whose path or target mentions {@code marker}. */
    private static List<JsonNode> records(String query, String marker) throws Exception {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode event : trail(query + (query.isEmpty() ? "?" : "&") + "limit=500").get("events")) {
            if (event.get("path").asText().contains(marker) || event.get("target").asText().contains(marker)) {
                found.add(event);
            }
        }
        return found;
    }

    private static JsonNode trail(String query) throws Exception {
        HttpResponse<String> response = broker.get("/api/audit" + query, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static HttpResponse<String> delete(String path, String key) throws Exception {
        return broker.send(HttpRequest.newBuilder(broker.uri(path)).header("X-API-Key", key).DELETE());
    }
}
