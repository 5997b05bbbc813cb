package org.mas.broker.delivery;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class DeadLetterApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());



    /** A message the agent rejects: it is on mas.dlq at once, with the agent as target. */
    private static String deadLetter(String id, String agent, String detail) throws Exception {
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{\"job\":1},\"requires_ack\":true}").statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"rejected\",\"detail\":\"" + detail + "\"}").statusCode()).isEqualTo(200);
        await().untilAsserted(() -> assertThat(list("?agent=" + agent).get("total").asInt()).isEqualTo(1));
        return id;
    }

    private static JsonNode list(String query) throws Exception {
        HttpResponse<String> response = broker.get("/api/dlq" + query, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static HttpResponse<String> delete(String id) throws Exception {
        return broker.send(HttpRequest.newBuilder(broker.uri("/api/dlq/" + id)).header("X-API-Key", RunningBroker.API_KEY).DELETE());
    }

    @Test
    void deadLettersAreListedWithReasonTargetAndAttemptsAndCanBeFiltered() throws Exception {
        String one = Envelopes.uniqueAgent("list-a");
        String two = Envelopes.uniqueAgent("list-b");
        deadLetter("dlq-list-1-" + one, one, "bad input alpha");
        deadLetter("dlq-list-2-" + two, two, "bad input beta");

        JsonNode byAgent = list("?agent=" + one);
        assertThat(byAgent.get("total").asInt()).isEqualTo(1);
        JsonNode item = byAgent.get("items").get(0);
        assertThat(item.get("id").asText()).isEqualTo("dlq-list-1-" + one);
        assertThat(item.get("agent").asText()).isEqualTo(one);
        assertThat(item.get("target").asText()).isEqualTo("mas.agent." + one);
        assertThat(item.get("reason").asText()).isEqualTo("rejected by " + one + ": bad input alpha");
        assertThat(item.get("attempts").asInt()).isEqualTo(1);
        assertThat(item.get("envelope").get("payload").get("job").asInt()).isEqualTo(1);

        JsonNode byReason = list("?reason=input%20beta");
        assertThat(byReason.get("total").asInt()).isEqualTo(1);
        assertThat(byReason.get("items").get(0).get("id").asText()).isEqualTo("dlq-list-2-" + two);
        assertThat(list("?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z").get("total").asInt()).isZero();
        assertThat(list("?size=1&page=1").get("items")).hasSize(1);
        HttpResponse<String> bad = broker.get("/api/dlq?size=0&since=yesterday", RunningBroker.API_KEY);
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).get("details")).hasSize(2);
        assertThat(broker.get("/api/dlq", null).statusCode()).isEqualTo(401);
    }

    /**
     * The reason filter is a substring, not a pattern: %, _, the escape character ! and ' in it match only themselves.
     * Each decoy would be listed if one of them were taken as a wildcard (or not escaped), or the query would fail.
     */
    @Test
    void theReasonFilterTakesWildcardsEscapesAndQuotesLiterally() throws Exception {
        String tag = Envelopes.uniqueAgent("like"); // in every reason: these queries see only this test's dead letters
        Map<String, String> reasons = new java.util.LinkedHashMap<>();
        reasons.put("literal-percent-underscore", tag + " is 100%_sure");
        reasons.put("decoy-both-wildcards", tag + " is 100 percent not sure");   // 100%_sure with % and _ as wildcards
        reasons.put("decoy-percent-wildcard", tag + " is 100 x_sure");          // with % as a wildcard
        reasons.put("decoy-underscore-wildcard", tag + " is 100%xsure");        // with _ as a wildcard
        reasons.put("literal-bang-underscore", tag + " says wow!_now");
        reasons.put("decoy-bang-as-escape", tag + " says wow_now");              // with ! taken as the escape
        reasons.put("decoy-bang-unescaped", tag + " says wow!xnow");            // with ! doubled but _ a wildcard
        reasons.put("literal-quote", tag + " thinks it's done");
        reasons.put("decoy-no-quote", tag + " thinks its done");                // with ' dropped
        Map<String, String> ids = new java.util.HashMap<>();
        for (Map.Entry<String, String> reason : reasons.entrySet()) {
            String agent = Envelopes.uniqueAgent(reason.getKey().substring(0, 5));
            ids.put(reason.getKey(), deadLetter("dlq-like-" + reason.getKey() + "-" + agent, agent, reason.getValue()));
        }

        assertThat(reasonMatches(tag)).as("every one is listed").hasSize(reasons.size());
        assertThat(reasonMatches(tag + " is 100%_sure")).containsExactly(ids.get("literal-percent-underscore"));
        assertThat(reasonMatches(tag + " says wow!_")).containsExactly(ids.get("literal-bang-underscore"));
        assertThat(reasonMatches(tag + " thinks it's")).containsExactly(ids.get("literal-quote"));
        assertThat(reasonMatches(tag + " thinks it''s")).isEmpty(); // a doubled quote is two quotes, not one
        assertThat(reasonMatches(tag + "%")).isEmpty();
        assertThat(reasonMatches(tag + "_")).isEmpty();
    }

    /** The ids GET /api/dlq lists for a reason filter, which goes URL-encoded in the query. */
    private static java.util.List<String> reasonMatches(String reason) throws Exception {
        JsonNode listed = list("?size=100&reason=" + java.net.URLEncoder.encode(reason, java.nio.charset.StandardCharsets.UTF_8));
        assertThat(listed.get("total").asInt()).isLessThan(100);
        java.util.List<String> ids = new java.util.ArrayList<>();
        listed.get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    @Test
    void aReplayRoutesTheMessageAgainAndIsAudited() throws Exception {
        String agent = Envelopes.uniqueAgent("replay");
        String id = deadLetter("dlq-replay-" + agent, agent, "try later");

        HttpResponse<String> replayed = broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json", "");

        assertThat(replayed.statusCode()).as(replayed.body()).isEqualTo(202);
        assertThat(JSON.readTree(replayed.body()).get("dead_letters_removed").asInt()).isEqualTo(1);
        Message again = broker.receiveOne("mas.agent." + agent);
        assertThat(again).isNotNull();
        assertThat(again.getStringProperty("mas_id")).isEqualTo(id);
        assertThat(list("?agent=" + agent).get("total").asInt()).isZero();
        JsonNode timeline = DeliveryLedgerTest.status(broker, id).get("timeline");
        JsonNode replay = null;
        for (JsonNode step : timeline) {
            if (step.get("event").asText().equals("replayed")) {
                replay = step;
            }
        }
        assertThat(replay).isNotNull();
        assertThat(replay.get("actor").asText()).isEqualTo("api-key-1");
    }

    @Test
    void aReplayAsItWasGoesOnlyToTheRecipientWhoseCopyWasParked() throws Exception {
        String happy = Envelopes.uniqueAgent("happy");
        String picky = Envelopes.uniqueAgent("picky");
        String id = "dlq-partial-" + picky;
        broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agents\":[\"" + happy + "\",\"" + picky
                + "\"],\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");
        assertThat(broker.receiveOne("mas.agent." + happy)).isNotNull();
        assertThat(broker.receiveOne("mas.agent." + picky)).isNotNull();
        broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + happy + "\",\"status\":\"processed\"}");
        broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + picky + "\",\"status\":\"rejected\"}");
        await().untilAsserted(() -> assertThat(list("?agent=" + picky).get("total").asInt()).isEqualTo(1));

        assertThat(broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json", "").statusCode()).isEqualTo(202);

        assertThat(broker.receiveOne("mas.agent." + picky)).isNotNull();
        // the replay's 202 comes after its sends: had it gone to happy too, the copy would be on happy's queue now
        assertThat(broker.depth("mas.agent." + happy)).isZero();
    }

    @Test
    void aReplayedMessageRejectedAgainIsDeadLetteredAgain() throws Exception {
        String agent = Envelopes.uniqueAgent("again");
        String id = deadLetter("dlq-again-" + agent, agent, "first time");

        assertThat(broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json", "").statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"rejected\",\"detail\":\"second time\"}").statusCode()).isEqualTo(200);

        // the second dead letter is not taken for a copy of the first: the DLQ shows what the ledger says
        await().untilAsserted(() -> assertThat(list("?agent=" + agent).get("items").findValuesAsText("reason"))
                .containsExactly("rejected by " + agent + ": second time"));
        assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText()).isEqualTo("dead_lettered");
    }

    @Test
    void aStillInvalidEditIsRefusedAndTheDeadLetterStays() throws Exception {
        String agent = Envelopes.uniqueAgent("edit");
        String id = deadLetter("dlq-invalid-" + agent, agent, "wrong");

        long invalidBefore = broker.depth("mas.invalid");
        HttpResponse<String> refused = broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json",
                "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent + "\",\"message_type\":\"orders\",\"payload\":{}}");

        assertThat(refused.statusCode()).isEqualTo(400);
        // the operator got the reasons; nothing of the refused edit is parked (a send would have come before the answer)
        assertThat(broker.depth("mas.invalid")).isEqualTo(invalidBefore);
        assertThat(JSON.readTree(refused.body()).get("details").toString()).contains("$.message_type");
        await().untilAsserted(() -> assertThat(list("?agent=" + agent).get("total").asInt()).isEqualTo(1));
    }

    @Test
    void aFixedEnvelopeReachesItsNewRecipient() throws Exception {
        String agent = Envelopes.uniqueAgent("wrong");
        String fixed = Envelopes.uniqueAgent("right");
        String id = deadLetter("dlq-fixed-" + agent, agent, "not for me");

        HttpResponse<String> replayed = broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json",
                "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + fixed + "\",\"message_type\":\"command\",\"payload\":{\"job\":2}}");

        assertThat(replayed.statusCode()).isEqualTo(202);
        Message delivered = broker.receiveOne("mas.agent." + fixed);
        assertThat(delivered).isNotNull();
        assertThat(delivered.getStringProperty("mas_ingress")).isEqualTo("replay");
    }

    @Test
    void aDeadLetterCanBeDroppedOnceAndTheDropIsAudited() throws Exception {
        String agent = Envelopes.uniqueAgent("drop");
        String id = deadLetter("dlq-drop-" + agent, agent, "obsolete");

        HttpResponse<String> dropped = delete(id);
        assertThat(dropped.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(dropped.body()).get("deleted").asInt()).isEqualTo(1);
        assertThat(delete(id).statusCode()).isEqualTo(404);
        assertThat(broker.post("/api/dlq/" + id + "/replay", RunningBroker.API_KEY, "application/json", "").statusCode())
                .isEqualTo(404);
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).endsWith("deleted");
    }

    @Test
    void aListCallBrowsesABoundedWindowAndTheBrokerCountsTheTotal() throws Exception {
        String one = Envelopes.uniqueAgent("window-a");
        String two = Envelopes.uniqueAgent("window-b");
        String reason = "window-" + one;
        deadLetter("dlq-window-1-" + one, one, reason);
        deadLetter("dlq-window-2-" + two, two, reason);
        JsonNode second = list("?reason=" + reason + "&size=1&page=1");
        assertThat(second.get("total").asInt()).isEqualTo(2);
        assertThat(second.get("items")).hasSize(1);
        assertThat(list("?reason=" + reason + "&size=1&page=2").get("items")).isEmpty();
        HttpResponse<String> tooDeep = broker.get("/api/dlq?size=500&page=20", RunningBroker.API_KEY);
        assertThat(tooDeep.statusCode()).isEqualTo(400);
        assertThat(tooDeep.body()).contains("at most 10000 dead letters deep");
    }

    @Test
    void aDeeplyNestedDeadLetterIsListed() throws Exception {
        String agent = Envelopes.uniqueAgent("deep");
        String id = "dlq-deep-" + agent;
        String payload = "{\"a\":".repeat(990) + "1" + "}".repeat(990);
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":" + payload + ",\"requires_ack\":true}").statusCode()).isEqualTo(202);
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"rejected\"}").statusCode()).isEqualTo(200);
        // the answer wraps the envelope in a few levels of its own: still written, not a 503
        await().untilAsserted(() -> assertThat(list("?agent=" + agent).get("total").asInt()).isEqualTo(1));
        assertThat(list("?agent=" + agent).get("items").get(0).get("id").asText()).isEqualTo(id);
    }
}
