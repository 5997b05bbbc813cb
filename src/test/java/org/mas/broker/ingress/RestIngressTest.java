package org.mas.broker.ingress;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

class RestIngressTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_MAX_MESSAGE_SIZE", "4096"));



    @Test
    void acceptedMessageIsOnTheAgentQueueWithTheContractProperties() throws Exception {
        String agent = Envelopes.uniqueAgent("planner");
        long before = System.currentTimeMillis();
        HttpResponse<String> response = broker.postMessage("{\"from_agent\":\"ui\",\"to_agent\":\"" + agent + "\","
                + "\"message_type\":\"request\",\"payload\":{\"q\":\"plan\"},\"priority\":\"high\",\"ttl\":60,"
                + "\"requires_ack\":true,\"correlation_id\":\"c-1\"}");

        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("status").asText()).isEqualTo("accepted");
        String id = body.get("id").asText();
        assertThat(id).hasSize(36);

        TextMessage message = (TextMessage) broker.receiveOne("mas.agent." + agent);
        assertThat(message).isNotNull();
        assertThat(message.getStringProperty("mas_id")).isEqualTo(id);
        assertThat(java.util.Collections.list(message.getPropertyNames()))
                .allMatch(name -> name.toString().startsWith("mas_") || name.toString().startsWith("JMS")
                        || name.toString().startsWith("_AMQ") || name.toString().startsWith("__AMQ"));
        assertThat(message.getStringProperty("mas_from")).isEqualTo("ui");
        assertThat(message.getStringProperty("mas_type")).isEqualTo("request");
        assertThat(message.getStringProperty("mas_correlation_id")).isEqualTo("c-1");
        assertThat(message.getBooleanProperty("mas_requires_ack")).isTrue();
        assertThat(message.getJMSPriority()).isEqualTo(7); // "high" = 8, JMS priority = 8 - 1
        assertThat(message.getJMSExpiration()).isBetween(before + 59_000, System.currentTimeMillis() + 60_000);
        JsonNode envelope = JSON.readTree(message.getText());
        assertThat(envelope.get("id").asText()).isEqualTo(id);
        assertThat(envelope.get("priority").asInt()).isEqualTo(8);
        assertThat(envelope.get("timestamp").asText()).endsWith("Z");
        assertThat(envelope.get("payload").get("q").asText()).isEqualTo("plan");
    }

    @Test
    void invalidEnvelopeGets400WithEverySchemaViolationAndQueuesNothing() throws Exception {
        String agent = Envelopes.uniqueAgent("x");
        HttpResponse<String> response = broker.postMessage("{\"from_agent\":\"bad agent!\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"gossip\",\"payload\":[],\"priority\":11,\"extra\":true}");

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("error").asText()).isEqualTo("envelope does not match the schema");
        assertThat(body.get("details").toString())
                .contains("$.from_agent").contains("$.message_type").contains("$.payload").contains("$.priority")
                .contains("extra");
        assertThat(response.body()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(broker.queueExists("mas.agent." + agent)).isFalse();
    }

    @Test
    void bothOrNeitherRecipientFieldIsOneClearError() throws Exception {
        HttpResponse<String> response = broker.postMessage(
                "{\"from_agent\":\"a\",\"message_type\":\"event\",\"payload\":{}}");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("details").toString())
                .contains("exactly one of to_agent, to_agents or to_capability is required");
    }

    @Test
    void notJsonGets400() throws Exception {
        HttpResponse<String> response = broker.postMessage("{\"from_agent\": ");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("not valid JSON");
    }

    @Test
    void missingOrWrongApiKeyGets401() throws Exception {
        String envelope = Envelopes.to("a", "b");
        HttpResponse<String> missing = broker.post("/api/messages", null, "application/json", envelope);
        HttpResponse<String> wrong = broker.post("/api/messages", "not-the-key-at-all", "application/json", envelope);

        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(missing.body()).get("error").asText()).isEqualTo("missing API key");
        assertThat(JSON.readTree(wrong.body()).get("error").asText()).isEqualTo("invalid API key");
    }

    @Test
    void tooLargeGets413BeforeParsing() throws Exception {
        String big = "{\"from_agent\":\"a\",\"to_agent\":\"b\",\"message_type\":\"event\",\"payload\":{\"blob\":\""
                + "x".repeat(5000) + "\"}}";
        HttpResponse<String> response = broker.postMessage(big);
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("details").get(0).asText()).contains("the limit is 4096");
    }

    @Test
    void aBodyFarOverTheLimitIsRefusedByTheServerWithAJson413() throws Exception {
        HttpResponse<String> response = broker.postMessage("x".repeat(200_000));
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("message too large");
    }

    @Test
    void unknownPathsAndMethodsGetJsonErrors() throws Exception {
        HttpResponse<String> notFound = broker.get("/api/nothing-here", RunningBroker.API_KEY);
        assertThat(notFound.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(notFound.body()).get("error").asText()).isEqualTo("not found");
        HttpResponse<String> wrongMethod = broker.send(HttpRequest.newBuilder(broker.uri("/api/messages"))
                .header("X-API-Key", RunningBroker.API_KEY).PUT(HttpRequest.BodyPublishers.ofString("{}")));
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(JSON.readTree(wrongMethod.body()).get("error").asText()).isEqualTo("method not allowed");
        assertThat(broker.send(HttpRequest.newBuilder(broker.uri("/api/messages/some-id/ack"))
                .header("X-API-Key", RunningBroker.API_KEY).DELETE()).statusCode()).isEqualTo(405);
    }

    @Test
    void anApiKeyInTheQueryStringIsRefused() throws Exception {
        HttpResponse<String> response = broker.post("/api/messages?X-API-Key=" + RunningBroker.API_KEY
                + "&Content-Type=application/json", null, null, Envelopes.to("a", "b"));
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("details").get(0).asText()).contains("as an HTTP header");
        assertThat(broker.get("/api/schema/envelope?x-api-key=" + RunningBroker.API_KEY, null).statusCode()).isEqualTo(400);
    }

    @Test
    void anAgentIdThatWouldNameAQueueIsRefused() throws Exception {
        HttpResponse<String> response = broker.postMessage(Envelopes.to("a", "victim::stolen"));
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("details").toString()).contains("$.to_agent");
        assertThat(broker.queueExists("stolen")).isFalse();
    }

    @Test
    void jsonBeyondTheParserLimitsIsA400() throws Exception {
        String deep = "{\"payload\":" + "[".repeat(2000) + "]".repeat(2000) + "}";
        HttpResponse<String> response = broker.postMessage(deep);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("not valid JSON");
    }

    @Test
    void notJsonContentTypeGets415() throws Exception {
        HttpResponse<String> plain = broker.post("/api/messages", RunningBroker.API_KEY, "text/plain", Envelopes.to("a", "b"));
        HttpResponse<String> none = broker.post("/api/messages", RunningBroker.API_KEY, null, Envelopes.to("a", "b"));
        assertThat(plain.statusCode()).isEqualTo(415);
        assertThat(none.statusCode()).isEqualTo(415);
        assertThat(broker.postMessage(Envelopes.to("a", "b")).statusCode()).isEqualTo(202);
        assertThat(broker.post("/api/messages", RunningBroker.API_KEY, "application/json; charset=UTF-8",
                Envelopes.to("a", "b")).statusCode()).isEqualTo(202);
    }

    @Test
    void camelHeadersAndQueryParametersDoNotSteerRouting() throws Exception {
        String agent = Envelopes.uniqueAgent("target");
        String evil = Envelopes.uniqueAgent("evil");
        HttpRequest.Builder request = HttpRequest.newBuilder(broker.uri("/api/messages?CamelJmsDestinationName=mas.agent."
                        + evil + "&cAmElHttpResponseCode=200"))
                .header("X-API-Key", RunningBroker.API_KEY)
                .header("Content-Type", "application/json")
                .header("CamelJmsDestinationName", "mas.agent." + evil)
                .header("cAmElJmsDestinationName", "mas.agent." + evil)
                .header("mas_recipients", evil)
                .header("mas_target", "mas.agent." + evil)
                .POST(HttpRequest.BodyPublishers.ofString(Envelopes.to("a", agent)));

        HttpResponse<String> response = broker.send(request);

        assertThat(response.statusCode()).isEqualTo(202);
        Message delivered = broker.receiveOne("mas.agent." + agent);
        assertThat(delivered).isNotNull();
        assertThat(delivered.getStringProperty("mas_target")).isEqualTo("mas.agent." + agent);
        assertThat(broker.queueExists("mas.agent." + evil)).isFalse();
        assertThat(response.headers().map().keySet()).noneMatch(h -> h.toLowerCase().startsWith("camel")
                || h.toLowerCase().startsWith("mas_") || h.equalsIgnoreCase("x-api-key"));
    }

    @Test
    void schemaIsServedToKeyHolders() throws Exception {
        HttpResponse<String> schema = broker.get("/api/schema/envelope", RunningBroker.API_KEY);
        assertThat(schema.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(schema.body()).get("required").toString()).contains("from_agent");
        assertThat(broker.get("/api/schema/envelope", null).statusCode()).isEqualTo(401);
    }

    @Test
    void healthCoversTheBrokerAndTheLedgerDatabases() {
        var registry = org.apache.camel.health.HealthCheckRegistry.get(broker.context());
        for (String id : new String[] {"broker", "ledger-databases"}) {
            var check = registry.getCheck(id).orElseThrow(() -> new AssertionError("no health check " + id));
            assertThat(check.call().getState()).as(id).isEqualTo(org.apache.camel.health.HealthCheck.State.UP);
        }
    }

    @Test
    void healthAndMetricsNeedNoKey() throws Exception {
        assertThat(broker.get("/observe/health", null).body()).contains("UP");
        HttpResponse<String> metrics = broker.get("/observe/metrics", null);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("jvm_memory");
    }
}
