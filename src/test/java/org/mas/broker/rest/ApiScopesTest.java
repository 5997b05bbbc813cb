package org.mas.broker.rest;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/** API key scopes (send, read, operate, admin) and keys bound to the agents they may act as. */
class ApiScopesTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String READER = "reader-key-0123456789";
    static final String SENDER = "sender-key-0123456789";
    static final String OPERATOR = "operator-key-0123456789";
    static final String BOUND = "bound-key-0123456789";
    static final String KEYS = "[\"" + RunningBroker.API_KEY + "\","
            + "{\"name\":\"reader\",\"key\":\"" + READER + "\",\"scopes\":[\"read\"]},"
            + "{\"name\":\"sender\",\"key\":\"" + SENDER + "\",\"scopes\":[\"send\"]},"
            + "{\"name\":\"operator\",\"key\":\"" + OPERATOR + "\",\"scopes\":[\"operate\"]},"
            + "{\"name\":\"bound\",\"key\":\"" + BOUND + "\",\"scopes\":[\"send\"],\"agents\":[\"bound-a\"]}]";

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_API_KEYS", KEYS));

    @Test
    void aReadKeyIsRefusedEveryCallButReads() throws Exception {
        String agent = Envelopes.uniqueAgent("read-only");
        String queue = "mas.agent." + agent;
        assertForbidden(broker.post("/api/messages", READER, "application/json", Envelopes.to("a", agent)),
                "reader", "send", "POST /api/messages");
        assertForbidden(broker.post("/api/messages/some-id/ack", READER, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}"), "reader", "send", "POST /api/messages/some-id/ack");
        assertForbidden(broker.post("/api/queues", READER, "application/json", "{\"agent\":\"" + agent + "\"}"),
                "reader", "operate", "POST /api/queues");
        assertForbidden(broker.post("/api/queues/" + queue + "/purge", READER, "application/json", ""),
                "reader", "operate", "POST /api/queues/" + queue + "/purge");
        assertForbidden(delete("/api/queues/" + queue, READER), "reader", "operate", "DELETE /api/queues/" + queue);
        assertForbidden(broker.post("/api/dlq/some-id/replay", READER, "application/json", ""),
                "reader", "operate", "POST /api/dlq/some-id/replay");
        assertForbidden(delete("/api/dlq/some-id", READER), "reader", "operate", "DELETE /api/dlq/some-id");
        assertForbidden(broker.get("/api/audit", READER), "reader", "admin", "GET /api/audit");
        assertThat(broker.queueExists(queue)).as("nothing was sent, no queue created").isFalse();

        for (String path : List.of("/api/queues", "/api/dlq", "/api/stats", "/api/alerts", "/api/schema/envelope")) {
            assertThat(broker.get(path, READER).statusCode()).as(path).isEqualTo(200);
        }
        assertThat(broker.get("/api/messages/no-such-message", READER).statusCode()).isEqualTo(404);
    }

    @Test
    void aSendKeyIsRefusedReads() throws Exception {
        for (String path : List.of("/api/queues", "/api/queues/mas.dlq", "/api/dlq", "/api/stats", "/api/alerts",
                "/api/messages/some-id", "/api/schema/envelope")) {
            assertForbidden(broker.get(path, SENDER), "sender", "read", "GET " + path);
        }
        String agent = Envelopes.uniqueAgent("sent");
        assertThat(broker.post("/api/messages", SENDER, "application/json", Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
    }

    @Test
    void anOperateKeyCanCreateAndPurgeQueuesButNotSend() throws Exception {
        String agent = Envelopes.uniqueAgent("purged");
        assertThat(broker.post("/api/queues", OPERATOR, "application/json", "{\"agent\":\"" + agent + "\"}").statusCode())
                .isEqualTo(201);
        assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
        assertForbidden(broker.post("/api/messages", OPERATOR, "application/json", Envelopes.to("a", agent)),
                "operator", "send", "POST /api/messages");

        HttpResponse<String> purge = broker.post("/api/queues/mas.agent." + agent + "/purge", OPERATOR, "application/json", "");

        assertThat(purge.statusCode()).as(purge.body()).isEqualTo(200);
        assertThat(JSON.readTree(purge.body()).get("purged").asInt()).isEqualTo(1);
        assertThat(broker.depth("mas.agent." + agent)).isZero();
        assertThat(delete("/api/queues/mas.agent." + agent, OPERATOR).statusCode()).isEqualTo(200);
    }

    @Test
    void aPlainKeyHasEveryScope() throws Exception {
        String agent = Envelopes.uniqueAgent("plain");
        assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
        assertThat(broker.get("/api/queues/mas.agent." + agent, RunningBroker.API_KEY).statusCode()).isEqualTo(200);
        assertThat(broker.post("/api/queues/mas.agent." + agent + "/purge", RunningBroker.API_KEY, "application/json", "")
                .statusCode()).isEqualTo(200);
        assertThat(delete("/api/dlq/no-such-id", RunningBroker.API_KEY).statusCode()).isEqualTo(404);
        assertThat(broker.get("/api/audit", RunningBroker.API_KEY).statusCode()).isEqualTo(200);
    }

    @Test
    void aKeyBoundToAnAgentSendsAndAcknowledgesOnlyAsThatAgent() throws Exception {
        String recipient = Envelopes.uniqueAgent("bound-to");
        HttpResponse<String> asA = broker.post("/api/messages", BOUND, "application/json",
                "{\"id\":\"bound-ok-" + recipient + "\",\"from_agent\":\"bound-a\",\"to_agent\":\"" + recipient
                        + "\",\"message_type\":\"request\",\"payload\":{},\"requires_ack\":true}");
        assertThat(asA.statusCode()).as(asA.body()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + recipient)).isNotNull();

        String refusedId = "bound-refused-" + recipient;
        HttpResponse<String> asB = broker.post("/api/messages", BOUND, "application/json",
                Envelopes.withId(refusedId, "bound-b", recipient));
        assertThat(asB.statusCode()).isEqualTo(403);
        JsonNode body = JSON.readTree(asB.body());
        assertThat(body.get("error").asText()).isEqualTo("API key 'bound' may not send as 'bound-b'");
        assertThat(body.get("details").get(0).asText()).contains("$.from_agent").contains("bound-a");
        // the 403 is answered before anything is recorded or sent: checked at once, these cannot miss a late copy
        assertThat(broker.get("/api/messages/" + refusedId, RunningBroker.API_KEY).statusCode())
                .as("nothing in the ledger").isEqualTo(404);
        JsonNode queue = JSON.readTree(broker.get("/api/queues/mas.agent." + recipient, RunningBroker.API_KEY).body());
        assertThat(queue.get("depth").asLong()).as("nothing queued").isZero();
        assertThat(queue.get("added").asLong()).as("only the first message was ever queued").isEqualTo(1);

        // the recipient acknowledges with a key bound to someone else: refused, the copy still waits
        String okId = "bound-ok-" + recipient;
        HttpResponse<String> ackAsB = broker.post("/api/messages/" + okId + "/ack", BOUND, "application/json",
                "{\"agent\":\"" + recipient + "\",\"status\":\"processed\"}");
        assertThat(ackAsB.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(ackAsB.body()).get("error").asText())
                .isEqualTo("API key 'bound' may not acknowledge as '" + recipient + "'");
        JsonNode status = JSON.readTree(broker.get("/api/messages/" + okId, RunningBroker.API_KEY).body());
        assertThat(status.toString()).doesNotContain("\"acked\"");
        assertThat(broker.post("/api/messages/" + okId + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + recipient + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);
    }

    @Test
    void aMissingOrWrongKeyIs401BeforeAnyScope() throws Exception {
        for (String key : new String[] {null, "not-a-key-at-all"}) {
            assertThat(broker.post("/api/queues/mas.agent.x/purge", key, "application/json", "").statusCode()).isEqualTo(401);
            assertThat(broker.get("/api/audit", key).statusCode()).isEqualTo(401);
        }
    }

    private static HttpResponse<String> delete(String path, String key) throws Exception {
        return broker.send(HttpRequest.newBuilder(broker.uri(path)).header("X-API-Key", key).DELETE());
    }

    static void assertForbidden(HttpResponse<String> response, String keyName, String scope, String call) throws Exception {
        assertThat(response.statusCode()).as(call + ": " + response.body()).isEqualTo(403);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("error").asText()).isEqualTo("forbidden");
        assertThat(body.get("details")).hasSize(1);
        assertThat(body.get("details").get(0).asText())
                .isEqualTo("API key '" + keyName + "' lacks the scope '" + scope + "' for " + call);
    }
}
