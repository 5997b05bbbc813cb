package org.mas.broker.ingress;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * POST /api/messages in group commit (RestBatches): concurrent requests share transactions, each 202 is given after
 * its transaction committed, and a request that cannot be delivered inside a shared transaction neither fails nor
 * doubles the others of its batch.
 */
class RestBatchesTest {

    @RegisterExtension
    // retries that take a while (0.5 s, 1 s, 2 s): a request that needs them must not hold up the others
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of(
            "MESSAGE_BROKER_REDELIVERY_INITIAL_DELAY_MS", "500", "MESSAGE_BROKER_REDELIVERY_MAX_DELAY_MS", "2000"));

    private static final int CLIENTS = 16;

    private static String envelope(String id, String to) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agent\":\"" + to
                + "\",\"message_type\":\"request\",\"payload\":{\"n\":1}}";
    }

    /** Posts every envelope from CLIENTS threads at once; returns the answers in the same order. */
    private static List<HttpResponse<String>> postConcurrently(List<String> envelopes) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<HttpResponse<String>>> answers = new ArrayList<>();
            for (String envelope : envelopes) {
                answers.add(clients.submit(() -> broker.postMessage(envelope)));
            }
            List<HttpResponse<String>> done = new ArrayList<>();
            for (Future<HttpResponse<String>> answer : answers) {
                done.add(answer.get());
            }
            return done;
        } finally {
            clients.shutdownNow();
        }
    }

    private static double metric(String series) throws Exception {
        return broker.get("/observe/metrics", null).body().lines().filter(line -> line.startsWith(series + " "))
                .mapToDouble(line -> Double.parseDouble(line.substring(series.length() + 1))).findFirst().orElse(0);
    }

    private static Set<String> idsOn(String queue, int expected) throws Exception {
        Set<String> ids = new HashSet<>();
        for (Message message : broker.receiveExactly(queue, expected)) {
            assertThat(ids.add(message.getStringProperty("mas_id"))).as("each id once").isTrue();
        }
        return ids;
    }

    @Test
    void concurrentRequestsShareTransactionsAndEachIsQueuedOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("batched");
        double commitsBefore = metric("mas_rest_batch_size_count");
        double requestsBefore = metric("mas_rest_batch_size_sum");
        List<String> envelopes = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            envelopes.add(envelope("batched-" + i + "-" + agent, agent));
        }

        List<HttpResponse<String>> answers = postConcurrently(envelopes);

        assertThat(answers).allSatisfy(answer -> assertThat(answer.statusCode()).as(answer.body()).isEqualTo(202));
        Set<String> expected = new HashSet<>();
        envelopes.forEach(e -> expected.add(e.substring(7, e.indexOf('"', 7))));
        assertThat(idsOn("mas.agent." + agent, 400)).isEqualTo(expected);
        double commits = metric("mas_rest_batch_size_count") - commitsBefore;
        assertThat(metric("mas_rest_batch_size_sum") - requestsBefore).isEqualTo(400);
        // 16 clients, 2 batch threads: requests wait while a transaction commits, and share the next one
        assertThat(commits).as("transactions for 400 requests").isLessThan(400);
        assertThat(metric("mas_rest_batch_size_max")).isGreaterThan(1);
    }

    @Test
    void requestsRetriedAloneDoNotHoldUpTheRequestsBehindThem() throws Exception {
        String full = Envelopes.uniqueAgent("stuck");
        String agent = Envelopes.uniqueAgent("behind");
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + full
                + "\",\"max_depth\":1}").statusCode()).isEqualTo(201);
        broker.sendText("mas.agent." + full, "filler", Map.of());
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            // as many stuck requests as there are batch threads, each in its retries (3.5 s) before mas.dlq
            List<Future<HttpResponse<String>>> stuck = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String id = "stuck-" + i + "-" + full;
                stuck.add(clients.submit(() -> broker.postMessage(envelope(id, full))));
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                        broker.get("/api/messages/" + id, RunningBroker.API_KEY).body().contains("\"retrying\""));
            }
            List<Future<HttpResponse<String>>> behind = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String id = "behind-" + i + "-" + agent;
                behind.add(clients.submit(() -> broker.postMessage(envelope(id, agent))));
            }
            for (Future<HttpResponse<String>> answer : behind) {
                assertThat(answer.get().statusCode()).isEqualTo(202);
            }
            // every request behind was answered while the stuck ones were still being retried
            assertThat(stuck).noneMatch(Future::isDone);
            for (Future<HttpResponse<String>> answer : stuck) {
                assertThat(answer.get().statusCode()).isEqualTo(202); // parked on mas.dlq
            }
            assertThat(idsOn("mas.agent." + agent, 8)).hasSize(8);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void aRequestThatCannotBeQueuedInASharedTransactionDoesNotFailOrDoubleTheOthers() throws Exception {
        String agent = Envelopes.uniqueAgent("fine");
        String full = Envelopes.uniqueAgent("full");
        assertThat(broker.post("/api/queues", RunningBroker.API_KEY, "application/json", "{\"agent\":\"" + full
                + "\",\"max_depth\":1}").statusCode()).isEqualTo(201);
        broker.sendText("mas.agent." + full, "filler", Map.of()); // full: a copy for it fails its transaction
        List<String> envelopes = new ArrayList<>();
        List<String> parked = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            String id = "mixed-" + i + "-" + agent;
            if (i % 20 == 7) {
                parked.add(id);
                envelopes.add(envelope(id, full));
            } else {
                envelopes.add(envelope(id, agent));
            }
        }

        List<HttpResponse<String>> answers = postConcurrently(envelopes);

        // every request is answered 202: on its queue, or (the full one's) parked on mas.dlq after its retries
        assertThat(answers).allSatisfy(answer -> assertThat(answer.statusCode()).as(answer.body()).isEqualTo(202));
        assertThat(idsOn("mas.agent." + agent, 120 - parked.size())).hasSize(120 - parked.size());
        for (String id : parked) {
            assertThat(broker.deadLetter(id).getStringProperty("mas_target")).isEqualTo("mas.agent." + full);
        }
        assertThat(broker.depth("mas.agent." + full)).isEqualTo(1); // the filler only
    }
}
