package org.mas.broker.cluster;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RouterPair;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every API answer is the same whichever router gives it: two routers (RouterPair) on one broker and one PostgreSQL.
 * Router 1 takes the message or makes the dead letter, router 2 answers about it.
 */
@Timeout(300)
class ClusterApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static RouterPair pair;

    @BeforeAll
    static void start() throws Exception {
        pair = RouterPair.start(dir, Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (pair != null) {
            pair.close();
        }
    }

    private static JsonNode json(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JSON.readTree(response.body());
    }

    private static List<String> events(JsonNode status) {
        List<String> events = new ArrayList<>();
        status.get("timeline").forEach(step -> events.add(step.get("event").asText()));
        return events;
    }

    @Test
    void aMessageAcceptedByRouterOneHasItsStatusAndTimelineOnRouterTwoAsSoonAsThe202Came() throws Exception {
        // read at once after each 202, no waiting: the 202 of a clustered router comes once the ledger holds the steps
        for (int i = 0; i < 20; i++) {
            String one = Envelopes.uniqueAgent("status-a");
            String two = Envelopes.uniqueAgent("status-b");
            String id = "cluster-" + i + "-" + one;
            json(pair.router(1).postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agents\":[\"" + one
                    + "\",\"" + two + "\"],\"message_type\":\"request\",\"payload\":{},\"requires_ack\":true}"), 202);
            JsonNode status = json(pair.router(2).get("/api/messages/" + id, RunningBroker.API_KEY), 200);
            assertThat(status.get("message").get("from_agent").asText()).isEqualTo("boss");
            assertThat(status.get("recipients")).hasSize(2);
            status.get("recipients").forEach(r -> assertThat(r.get("status").asText()).isEqualTo("queued"));
            assertThat(events(status)).containsExactly("accepted", "queued", "queued");
        }
    }

    @Test
    void aDeadLetterMadeThroughRouterOneIsListedReplayedAndDeletedOnRouterTwo() throws Exception {
        RunningBroker one = pair.router(1);
        RunningBroker two = pair.router(2);
        List<String> ids = new ArrayList<>();
        String agent = Envelopes.uniqueAgent("dlq");
        for (String n : List.of("replay", "delete")) {
            String id = "cluster-dlq-" + n + "-" + agent;
            ids.add(id);
            json(one.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}"), 202);
            assertThat(one.receiveOne("mas.agent." + agent)).isNotNull();
            json(one.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                    "{\"agent\":\"" + agent + "\",\"status\":\"rejected\",\"detail\":\"no " + n + "\"}"), 200);
        }
        // listed on router 2, one by one as by id (agent and reason filters)
        await().untilAsserted(() -> assertThat(json(two.get("/api/dlq?agent=" + agent, RunningBroker.API_KEY), 200)
                .get("total").asInt()).isEqualTo(2));
        JsonNode found = json(two.get("/api/dlq?agent=" + agent + "&reason=no%20replay", RunningBroker.API_KEY), 200);
        assertThat(found.get("items")).hasSize(1);
        assertThat(found.get("items").get(0).get("id").asText()).isEqualTo(ids.get(0));
        assertThat(found.get("items").get(0).get("reason").asText()).isEqualTo("rejected by " + agent + ": no replay");

        JsonNode replayed = json(two.post("/api/dlq/" + ids.get(0) + "/replay", RunningBroker.API_KEY, "application/json", ""), 202);
        assertThat(replayed.get("dead_letters_removed").asInt()).isEqualTo(1);
        Message again = two.receiveOne("mas.agent." + agent);
        assertThat(again).isNotNull();
        assertThat(again.getStringProperty("mas_id")).isEqualTo(ids.get(0));

        HttpResponse<String> deleted = two.send(HttpRequest.newBuilder(two.uri("/api/dlq/" + ids.get(1)))
                .header("X-API-Key", RunningBroker.API_KEY).DELETE());
        assertThat(json(deleted, 200).get("deleted").asInt()).isEqualTo(1);
        assertThat(json(one.get("/api/dlq?agent=" + agent, RunningBroker.API_KEY), 200).get("total").asInt()).isZero();

        // either router reads the whole story of each, written by both
        for (RunningBroker router : List.of(one, two)) {
            assertThat(events(json(router.get("/api/messages/" + ids.get(0), RunningBroker.API_KEY), 200)))
                    .contains("accepted", "queued", "dead_lettered", "replayed");
            assertThat(events(json(router.get("/api/messages/" + ids.get(1), RunningBroker.API_KEY), 200)))
                    .contains("accepted", "queued", "dead_lettered", "deleted");
        }
    }

    @Test
    void theQueueApiOnRouterTwoActsOnTheSharedBroker() throws Exception {
        RunningBroker one = pair.router(1);
        RunningBroker two = pair.router(2);
        String agent = Envelopes.uniqueAgent("queue");
        String queue = "mas.agent." + agent;
        json(two.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + agent + "\"}"), 201);
        assertThat(one.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + agent + "\"}")
                .statusCode()).as("created once, whichever router is asked").isEqualTo(409);
        assertThat(pair.artemis().locateQueue(org.apache.activemq.artemis.api.core.SimpleString.of(queue))).isNotNull();
        json(one.postMessage(Envelopes.to("a", agent)), 202);
        json(one.postMessage(Envelopes.to("a", agent)), 202);

        await().untilAsserted(() -> assertThat(json(two.get("/api/queues/" + queue, RunningBroker.API_KEY), 200)
                .get("depth").asLong()).isEqualTo(2));
        assertThat(json(two.get("/api/queues", RunningBroker.API_KEY), 200).get("queues").findValuesAsText("name"))
                .contains(queue, "mas.inbound", "mas.acks");
        assertThat(json(two.post("/api/queues/" + queue + "/purge", RunningBroker.API_KEY, "application/json", ""), 200)
                .get("purged").asLong()).isEqualTo(2);
        assertThat(pair.router(1).depth(queue)).isZero();
        HttpResponse<String> deleted = two.send(HttpRequest.newBuilder(two.uri("/api/queues/" + queue))
                .header("X-API-Key", RunningBroker.API_KEY).DELETE());
        assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
        assertThat(one.get("/api/queues/" + queue, RunningBroker.API_KEY).statusCode()).isEqualTo(404);
    }

    private static long received(RunningBroker router) throws Exception {
        return json(router.get("/api/stats", RunningBroker.API_KEY), 200).get("windows").get("15m").get("received").asLong();
    }

    /** mas_messages_received_total{ingress="rest"} on the router's /observe/metrics. */
    private static double restReceivedMetric(RunningBroker router) throws Exception {
        String metrics = router.get("/observe/metrics", null).body();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^mas_messages_received_total\\{[^}]*ingress=\"rest\"[^}]*} (\\S+)$")
                .matcher(metrics);
        assertThat(m.find()).as(metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void statsAndMetricsArePerRouter() throws Exception {
        long oneBefore = received(pair.router(1));
        long twoBefore = received(pair.router(2));
        double oneMetric = restReceivedMetric(pair.router(1));
        double twoMetric = restReceivedMetric(pair.router(2));
        json(pair.router(1).postMessage(Envelopes.to("a", Envelopes.uniqueAgent("stats"))), 202);
        // each router counts what it handled (Prometheus adds the routers up); a REST message is handled where it came.
        // Two routers in one JVM keep their own meter registries
        assertThat(received(pair.router(1))).isEqualTo(oneBefore + 1);
        assertThat(received(pair.router(2))).isEqualTo(twoBefore);
        assertThat(restReceivedMetric(pair.router(1))).isEqualTo(oneMetric + 1);
        assertThat(restReceivedMetric(pair.router(2))).isEqualTo(twoMetric);
    }
}
