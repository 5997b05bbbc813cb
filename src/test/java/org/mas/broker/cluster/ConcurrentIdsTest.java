package org.mas.broker.cluster;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import jakarta.jms.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.MasNames;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RouterPair;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same message id sent to both routers at the same moment: the routers claim the id in the shared ledger, so the
 * same content is delivered once (one answer says duplicate) and other content under the same id is refused (409),
 * never both accepted and one silently dropped.
 */
class ConcurrentIdsTest {

    private static final int PAIRS = 15;

    @TempDir
    static Path dir;

    static RouterPair routers;

    @BeforeAll
    static void start() throws Exception {
        routers = RouterPair.start(dir, Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (routers != null) {
            routers.close();
        }
    }

    private static String envelope(String id, String agent, String text) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"command\",\"payload\":{\"text\":\"" + text + "\"}}";
    }

    /** Posts each pair's two bodies to router 1 and router 2 at once; returns the two answers of each pair. */
    private static List<HttpResponse<String>[]> race(List<String[]> pairs) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<HttpResponse<String>[]> answers = new ArrayList<>();
            for (String[] bodies : pairs) {
                CyclicBarrier together = new CyclicBarrier(2);
                Future<HttpResponse<String>> one = pool.submit(() -> {
                    together.await();
                    return routers.router(1).postMessage(bodies[0]);
                });
                Future<HttpResponse<String>> two = pool.submit(() -> {
                    together.await();
                    return routers.router(2).postMessage(bodies[1]);
                });
                @SuppressWarnings("unchecked")
                HttpResponse<String>[] pair = new HttpResponse[] {one.get(), two.get()};
                answers.add(pair);
            }
            return answers;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theSameContentAtBothRoutersIsDeliveredOnce() throws Exception {
        String agent = Envelopes.uniqueAgent("same");
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < PAIRS; i++) {
            String body = envelope("same-" + i + "-" + agent, agent, "hello");
            pairs.add(new String[] {body, body});
        }
        for (HttpResponse<String>[] pair : race(pairs)) {
            assertThat(pair[0].statusCode()).as(pair[0].body()).isEqualTo(202);
            assertThat(pair[1].statusCode()).as(pair[1].body()).isEqualTo(202);
            assertThat(pair[0].body().contains("\"duplicate\":true") || pair[1].body().contains("\"duplicate\":true"))
                    .as(pair[0].body() + " / " + pair[1].body()).isTrue();
        }
        List<String> ids = new ArrayList<>();
        for (Message copy : routers.router(1).receiveExactly(MasNames.agentQueue(agent), PAIRS)) {
            ids.add(copy.getStringProperty(MasNames.HEADER_ID));
        }
        assertThat(ids).doesNotHaveDuplicates().hasSize(PAIRS);
    }

    @Test
    void otherContentUnderTheSameIdIsRefusedNotDropped() throws Exception {
        String agent = Envelopes.uniqueAgent("other");
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < PAIRS; i++) {
            String id = "other-" + i + "-" + agent;
            pairs.add(new String[] {envelope(id, agent, "one"), envelope(id, agent, "two")});
        }
        List<String> accepted = new ArrayList<>();
        List<HttpResponse<String>[]> answers = race(pairs);
        for (int i = 0; i < PAIRS; i++) {
            HttpResponse<String>[] pair = answers.get(i);
            List<Integer> codes = List.of(pair[0].statusCode(), pair[1].statusCode());
            assertThat(codes).as(pair[0].body() + " / " + pair[1].body()).containsExactlyInAnyOrder(202, 409);
            accepted.add(pair[0].statusCode() == 202 ? "one" : "two");
        }
        // what arrived is, for each id, the body that was answered 202
        Map<String, String> arrived = new java.util.HashMap<>();
        for (Message copy : routers.router(1).receiveExactly(MasNames.agentQueue(agent), PAIRS)) {
            String body = ((jakarta.jms.TextMessage) copy).getText();
            arrived.put(copy.getStringProperty(MasNames.HEADER_ID), body.contains("\"one\"") ? "one" : "two");
        }
        for (int i = 0; i < PAIRS; i++) {
            assertThat(arrived.get("other-" + i + "-" + agent)).as("pair " + i).isEqualTo(accepted.get(i));
        }
        assertThat(RunningBroker.API_KEY).isNotEmpty();
    }
}
