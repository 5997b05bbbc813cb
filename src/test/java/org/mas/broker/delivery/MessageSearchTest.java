package org.mas.broker.delivery;

import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * GET /api/messages?correlation_id= / ?conversation_id=: what the ledger knows of the messages that carry the id,
 * newest first, bounded by limit; 400 for anything but exactly one id and a limit of 1..500.
 */
class MessageSearchTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void findsTheMessagesOfACorrelationIdNewestFirstWithTheirRecipientsStatus() throws Exception {
        String worker = Envelopes.uniqueAgent("search-worker");
        String other = Envelopes.uniqueAgent("search-other");
        String correlation = "req-" + worker;
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            sent.add(send("{\"from_agent\":\"planner\",\"to_agents\":[\"" + worker + "\",\"" + other + "\"],"
                    + "\"message_type\":\"response\",\"payload\":{\"n\":" + i + "},\"correlation_id\":\"" + correlation + "\"}"));
        }
        send("{\"from_agent\":\"planner\",\"to_agent\":\"" + worker + "\",\"message_type\":\"response\",\"payload\":{},"
                + "\"correlation_id\":\"" + correlation + "-not-this-one\"}");

        JsonNode found = search("correlation_id=" + correlation, 200);

        assertThat(found.path("correlation_id").asText()).isEqualTo(correlation);
        assertThat(found.has("conversation_id")).isFalse();
        assertThat(found.path("limit").asInt()).isEqualTo(50);
        assertThat(found.path("more").asBoolean()).isFalse();
        List<JsonNode> messages = list(found.path("messages"));
        assertThat(messages).extracting(m -> m.path("id").asText()).containsExactlyInAnyOrderElementsOf(sent);
        assertThat(messages).isSortedAccordingTo(Comparator.comparing((JsonNode m) -> m.path("accepted_at").asText())
                .thenComparing(m -> m.path("id").asText()).reversed());
        for (JsonNode message : messages) {
            assertThat(message.path("from_agent").asText()).isEqualTo("planner");
            assertThat(message.path("message_type").asText()).isEqualTo("response");
            assertThat(message.path("correlation_id").asText()).isEqualTo(correlation);
            assertThat(message.path("accepted_at").asText()).endsWith("Z");
            assertThat(list(message.path("recipients"))).extracting(r -> r.path("agent").asText() + ":" + r.path("status").asText())
                    .containsExactlyInAnyOrder(worker + ":queued", other + ":queued");
        }
        broker.receiveExactly("mas.agent." + worker, 4); // delivered, and the search changed nothing
    }

    @Test
    void findsTheMessagesOfAConversationAndShowsEachRecipientsLatestStatus() throws Exception {
        String agent = Envelopes.uniqueAgent("search-conversation");
        String conversation = "conv-" + agent;
        String asked = send("{\"from_agent\":\"planner\",\"to_agent\":\"" + agent + "\",\"message_type\":\"request\","
                + "\"payload\":{},\"requires_ack\":true,\"conversation_id\":\"" + conversation + "\"}");
        String answered = send("{\"from_agent\":\"" + agent + "\",\"to_agent\":\"planner\",\"message_type\":\"response\","
                + "\"payload\":{},\"correlation_id\":\"" + asked + "\",\"conversation_id\":\"" + conversation + "\"}");
        HttpResponse<String> ack = broker.post("/api/messages/" + asked + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}");
        assertThat(ack.statusCode()).as(ack.body()).isEqualTo(200);

        JsonNode found = search("conversation_id=" + conversation, 200);

        assertThat(found.path("conversation_id").asText()).isEqualTo(conversation);
        List<JsonNode> messages = list(found.path("messages"));
        assertThat(messages).extracting(m -> m.path("id").asText()).containsExactlyInAnyOrder(asked, answered);
        JsonNode request = messages.stream().filter(m -> m.path("id").asText().equals(asked)).findFirst().orElseThrow();
        assertThat(request.path("conversation_id").asText()).isEqualTo(conversation);
        assertThat(request.path("recipients").get(0).path("status").asText()).isEqualTo("acked");
        assertThat(request.path("recipients").get(0).path("requires_ack").asBoolean()).isTrue();
        JsonNode response = messages.stream().filter(m -> m.path("id").asText().equals(answered)).findFirst().orElseThrow();
        assertThat(response.path("correlation_id").asText()).isEqualTo(asked);
        // the message's own status answer carries its conversation too
        JsonNode status = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                broker.get("/api/messages/" + answered, RunningBroker.API_KEY).body());
        assertThat(status.path("message").path("conversation_id").asText()).isEqualTo(conversation);
        assertThat(status.path("message").path("correlation_id").asText()).isEqualTo(asked);
        // and by its correlation id, the answer to the request
        assertThat(list(search("correlation_id=" + asked, 200).path("messages"))).extracting(m -> m.path("id").asText())
                .containsExactly(answered);
    }

    @Test
    void aLimitBoundsTheAnswerAndSaysWhetherMoreWereFound() throws Exception {
        String agent = Envelopes.uniqueAgent("search-limit");
        String correlation = "many-" + agent;
        for (int i = 0; i < 3; i++) {
            send("{\"from_agent\":\"planner\",\"to_agent\":\"" + agent + "\",\"message_type\":\"event\",\"payload\":{},"
                    + "\"correlation_id\":\"" + correlation + "\"}");
        }
        JsonNode all = search("correlation_id=" + correlation, 200);
        JsonNode two = search("correlation_id=" + correlation + "&limit=2", 200);
        assertThat(two.path("limit").asInt()).isEqualTo(2);
        assertThat(two.path("more").asBoolean()).isTrue();
        assertThat(list(two.path("messages"))).extracting(m -> m.path("id").asText())
                .containsExactly(all.path("messages").get(0).path("id").asText(), all.path("messages").get(1).path("id").asText());
        JsonNode three = search("correlation_id=" + correlation + "&limit=3", 200);
        assertThat(three.path("more").asBoolean()).isFalse();
        assertThat(three.path("messages").size()).isEqualTo(3);
        assertThat(search("correlation_id=" + correlation + "&limit=500", 200).path("messages").size()).isEqualTo(3);
    }

    @Test
    void anIdNobodyUsedFindsNothing() throws Exception {
        JsonNode found = search("conversation_id=nobody-talks-here", 200);
        assertThat(found.path("messages").isArray()).isTrue();
        assertThat(found.path("messages").size()).isZero();
        assertThat(found.path("more").asBoolean()).isFalse();
    }

    @Test
    void anythingButExactlyOneIdAndALimitOf1To500IsA400() throws Exception {
        String either = "give exactly one of correlation_id and conversation_id";
        assertInvalid("", either);
        assertInvalid("limit=5", either);
        assertInvalid("correlation_id=a&conversation_id=b", either);
        assertInvalid("correlation_id=" + enc("has space"), "correlation_id: 1 to 256 of the characters A-Z a-z 0-9 : _ . -");
        assertInvalid("conversation_id=" + "x".repeat(257), "conversation_id: 1 to 256 of the characters A-Z a-z 0-9 : _ . -");
        assertInvalid("correlation_id=", "correlation_id: 1 to 256 of the characters A-Z a-z 0-9 : _ . -");
        for (String limit : List.of("0", "501", "-1", "ten", "2.5", "")) {
            assertInvalid("correlation_id=a&limit=" + enc(limit), "limit: a whole number between 1 and 500");
        }
        assertInvalid("correlation_id=a&correlation_id=b", "correlation_id: given more than once");
        assertInvalid("correlationId=a", "correlationId: not a parameter of this call (correlation_id, conversation_id, limit)",
                either);
        // a request header of the same name is not a query parameter
        HttpResponse<String> header = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri("/api/messages"))
                .header("X-API-Key", RunningBroker.API_KEY).header("correlation_id", "a").GET());
        assertThat(header.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(header.body()).path("details")).extracting(JsonNode::asText).containsExactly(either);
    }

    @Test
    void searchingNeedsAKey() throws Exception {
        HttpResponse<String> response = broker.get("/api/messages?correlation_id=a", null);
        assertThat(response.statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(response.body()).path("error").asText()).isEqualTo("missing API key");
    }

    private static String send(String envelope) throws Exception {
        HttpResponse<String> response = broker.postMessage(envelope);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        return JSON.readTree(response.body()).path("id").asText();
    }

    private static JsonNode search(String query, int status) throws Exception {
        HttpResponse<String> response = broker.get("/api/messages" + (query.isEmpty() ? "" : "?" + query), RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(query + ": " + response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        return JSON.readTree(response.body());
    }

    private static void assertInvalid(String query, String... details) throws Exception {
        JsonNode error = search(query, 400);
        assertThat(error.path("error").asText()).as(query).isEqualTo("invalid query");
        assertThat(error.path("details")).extracting(JsonNode::asText).as(query).containsExactly(details);
    }

    private static List<JsonNode> list(JsonNode array) {
        List<JsonNode> nodes = new ArrayList<>();
        array.forEach(nodes::add);
        return nodes;
    }

    private static String enc(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
