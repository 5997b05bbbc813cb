package org.mas.broker.ingress;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.builder.AdviceWith;
import org.apache.camel.model.InterceptFromDefinition;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.OnExceptionDefinition;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.rest.RestDefinition;
import org.apache.camel.model.rest.VerbDefinition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.rest.RequestRejectedException;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Authentication and error answers are declared once for every REST route (routes/rest-configuration.yaml,
 * mas-rest): a REST route that does not name it fails here, and any failure a route does not answer itself is a
 * JSON 503 with Retry-After.
 */
class RestErrorsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void everyRouteBehindARestVerbRunsWithTheRestConfiguration() {
        ModelCamelContext model = (ModelCamelContext) broker.context();
        List<VerbDefinition> verbs = model.getRestDefinitions().stream()
                .map(RestDefinition::getVerbs).flatMap(List::stream).toList();
        Set<String> targets = verbs.stream().map(verb -> verb.getTo().getEndpointUri()).collect(Collectors.toSet());
        // the Rest DSL inlines a verb's direct: route into its rest: route; a route it did not inline still counts
        List<RouteDefinition> restRoutes = model.getRouteDefinitions().stream()
                .filter(route -> route.getInput().getEndpointUri().startsWith("rest:")
                        || targets.contains(route.getInput().getEndpointUri()))
                .toList();

        assertThat(verbs).hasSizeGreaterThanOrEqualTo(14);
        assertThat(restRoutes.stream().filter(route -> route.getInput().getEndpointUri().startsWith("rest:"))).hasSize(verbs.size());
        for (RouteDefinition route : restRoutes) {
            assertThat(route.getRouteConfigurationId()).as("route configuration of %s", route.getId()).isEqualTo("mas-rest");
            List<String> handled = route.getOutputs().stream()
                    .filter(OnExceptionDefinition.class::isInstance).map(OnExceptionDefinition.class::cast)
                    .flatMap(onException -> onException.getExceptions().stream()).toList();
            assertThat(handled).as("exceptions answered by %s", route.getId())
                    .contains(RequestRejectedException.class.getName(), Exception.class.getName());
            assertThat(route.getOutputs()).as("authentication of %s", route.getId())
                    .hasAtLeastOneElementOfType(InterceptFromDefinition.class);
        }
    }

    @Test
    void everyRestVerbDeclaresExactlyOneKnownScope() {
        ModelCamelContext model = (ModelCamelContext) broker.context();
        for (RestDefinition rest : model.getRestDefinitions()) {
            assertThat(rest.getSecurityDefinitions()).as("securityDefinitions of rest %s", rest.getPath()).isNotNull();
            for (VerbDefinition verb : rest.getVerbs()) {
                assertThat(verb.getSecurity()).as("security of %s %s%s", verb.asVerb(), rest.getPath(), verb.getPath()).hasSize(1);
                assertThat(verb.getSecurity().get(0).getKey()).isEqualTo(org.mas.broker.rest.RestScopes.SECURITY_KEY);
                assertThat(verb.getSecurity().get(0).getScopes()).as("scope of %s %s%s", verb.asVerb(), rest.getPath(), verb.getPath())
                        .isIn(org.mas.broker.MasNames.SCOPES);
            }
        }
        // and what start-up checks is what runs: the same model gives every verb its scope
        assertThat(org.mas.broker.rest.RestScopes.scopes(model.getRestDefinitions()))
                .containsEntry("POST /api/messages", "send").containsEntry("GET /api/schema/envelope", "read")
                .containsEntry("POST /api/queues/{name}/purge", "operate").containsEntry("GET /api/audit", "admin");
    }

    @Test
    void everyApiCallButHealthAndMetricsNeedsAKey() throws Exception {
        for (String path : List.of("/api/schema/envelope", "/api/messages/some-id", "/api/dlq", "/api/queues",
                "/api/queues/mas.dlq", "/api/alerts", "/api/stats")) {
            HttpResponse<String> response = broker.get(path, null);
            assertThat(response.statusCode()).as(path).isEqualTo(401);
            assertThat(JSON.readTree(response.body()).get("error").asText()).as(path).isEqualTo("missing API key");
            assertThat(broker.get(path, "not-a-key").statusCode()).as(path).isEqualTo(401);
        }
        for (String path : List.of("/api/messages/some-id/ack", "/api/dlq/some-id/replay", "/api/queues")) {
            assertThat(broker.post(path, null, "application/json", "{}").statusCode()).as(path).isEqualTo(401);
        }
        assertThat(broker.get("/observe/health", null).statusCode()).isEqualTo(200);
        assertThat(broker.get("/observe/metrics", null).statusCode()).isEqualTo(200);
    }

    @Test
    void anUnexpectedFailureOfARouteIsAJson503WithRetryAfter() throws Exception {
        // envelope-schema had no catch of its own for anything but a refused key. (AdviceWith prepares the route
        // again and so adds mas-rest's steps a second time: authenticateRest does nothing the second time.)
        AdviceWith.adviceWith(broker.context(), "envelope-schema", route -> route
                .weaveByToString(".*schemaJson.*").replace().throwException(new IllegalStateException("simulated failure")));

        HttpResponse<String> response = broker.get("/api/schema/envelope", RunningBroker.API_KEY);

        assertUnavailable(response);
        assertThat(broker.get("/api/schema/envelope", null).statusCode()).isEqualTo(401);
    }

    /** The failure comes back from the message path (mas-errors), where the REST route's own handler never sees it. */
    @Test
    void aMessageNotEvenTheDeadLetterQueueTakesIsAJson503WithRetryAfter() throws Exception {
        String marker = Envelopes.uniqueAgent("unlucky");
        AdviceWith.adviceWith(broker.context(), "accept-envelope", route -> route
                .weaveByToString(".*ledger method:accepted.*").before().process(exchange -> {
                    if (exchange.getIn().getBody(String.class).contains(marker)) {
                        throw new IOException("simulated failure of the ledger");
                    }
                }));
        AdviceWith.adviceWith(broker.context(), "dead-letter", route -> route
                .weaveAddFirst().process(exchange -> {
                    if (exchange.getIn().getBody(String.class).contains(marker)) {
                        throw new IOException("simulated failure of mas.dlq");
                    }
                }));

        assertUnavailable(broker.postMessage(Envelopes.to(marker, "b")));
        assertThat(broker.postMessage(Envelopes.to("a", "b")).statusCode()).isEqualTo(202);
    }

    private static void assertUnavailable(HttpResponse<String> response) throws IOException {
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode body = JSON.readTree(response.body());
        assertThat(body.get("error").asText()).isEqualTo("temporarily unavailable, retry later");
        assertThat(body.get("details")).isEmpty();
        assertThat(response.body()).doesNotContain("simulated").doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void everyRestBodyIsJsonAndWithinTheSizeLimit() throws Exception {
        for (String path : new String[] {"/api/messages/some-id/ack", "/api/queues", "/api/dlq/some-id/replay"}) {
            var plain = broker.post(path, RunningBroker.API_KEY, "text/plain", "{\"agent\":\"x\"}");
            assertThat(plain.statusCode()).as(path).isEqualTo(415);
            assertThat(plain.body()).contains("Content-Type must be application/json");
            var big = broker.post(path, RunningBroker.API_KEY, "application/json", "{\"pad\":\"" + "x".repeat(1_200_000) + "\"}");
            assertThat(big.statusCode()).as(path).isEqualTo(413);
            assertThat(big.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).contains("json"));
        }
    }

    @Test
    void formBodiesAreRefusedAndNeverCarryTheKey() throws Exception {
        // a browser sends a form cross-site without asking: its fields must not pass for headers (the key, path ids)
        String agent = Envelopes.uniqueAgent("form");
        assertThat(broker.postMessage(Envelopes.to("boss", agent)).statusCode()).isEqualTo(202);
        org.awaitility.Awaitility.await().until(() -> broker.depth("mas.agent." + agent) == 1);
        for (String type : new String[] {"application/x-www-form-urlencoded", "multipart/form-data; boundary=b"}) {
            String body = type.startsWith("multipart")
                    ? "--b\r\nContent-Disposition: form-data; name=\"X-API-Key\"\r\n\r\n" + RunningBroker.API_KEY + "\r\n--b--\r\n"
                    : "X-API-Key=" + RunningBroker.API_KEY;
            HttpResponse<String> purge = broker.send(java.net.http.HttpRequest.newBuilder(
                    broker.uri("/api/queues/mas.agent." + agent + "/purge")).header("Content-Type", type)
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)));
            assertThat(purge.statusCode()).as(type + ": " + purge.body()).isIn(401, 415);
            assertThat(JSON.readTree(purge.body()).has("error")).isTrue();
            HttpResponse<String> get = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri("/api/queues"))
                    .header("Content-Type", type).header("X-API-Key", RunningBroker.API_KEY)
                    .method("GET", java.net.http.HttpRequest.BodyPublishers.ofString(body)));
            assertThat(get.statusCode()).as(type + ": " + get.body()).isEqualTo(415);
        }
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);
    }

    @Test
    void jsonWithDuplicateKeysIsRefusedByEveryCallThatTakesJson() throws Exception {
        String agent = Envelopes.uniqueAgent("dup");
        for (String[] call : new String[][] {
                {"/api/agents", "{\"id\":\"" + agent + "\",\"id\":\"other-" + agent + "\"}"},
                {"/api/queues", "{\"agent\":\"" + agent + "\",\"agent\":\"other-" + agent + "\"}"},
                {"/api/messages/m-" + agent + "/ack", "{\"agent\":\"" + agent + "\",\"agent\":\"x\",\"status\":\"processed\"}"}}) {
            HttpResponse<String> response = broker.post(call[0], RunningBroker.API_KEY, "application/json", call[1]);
            assertThat(response.statusCode()).as(call[0] + ": " + response.body()).isEqualTo(400);
            assertThat(response.body()).contains("uplicate");
        }
        assertThat(broker.get("/api/agents/other-" + agent, RunningBroker.API_KEY).statusCode()).isEqualTo(404);
        assertThat(broker.queueExists("mas.agent.other-" + agent)).isFalse();
    }
}
