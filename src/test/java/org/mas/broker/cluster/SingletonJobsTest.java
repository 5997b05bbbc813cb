package org.mas.broker.cluster;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.camel.Exchange;
import org.apache.camel.support.DefaultConsumer;
import org.apache.camel.support.DefaultExchange;
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
 * Queue clean-up, ledger clean-up and alert evaluation run on one of two routers at a time (RouterPair: one broker,
 * one PostgreSQL). The clean-ups' interval is an hour, so their timers stay quiet and the test fires them itself;
 * alerts are evaluated every 2 s by the timers.
 */
@Timeout(300)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class SingletonJobsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static RouterPair pair;

    @BeforeAll
    static void start() throws Exception {
        pair = RouterPair.start(dir, Map.of("MESSAGE_BROKER_CLEANUP_INTERVAL", "3600",
                "MESSAGE_BROKER_ROUTING_INTERVAL", "2", "MESSAGE_BROKER_ALERT_THRESHOLDS_QUEUE_SIZE", "2"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (pair != null) {
            pair.close();
        }
    }

    /** Runs of {@code job} this router started (mas_singleton_job_runs_total{job}). */
    static double runs(RunningBroker router, String job) {
        Counter counter = router.context().getRegistry().findSingleByType(MeterRegistry.class)
                .find("mas.singleton_job.runs").tag("job", job).counter();
        return counter == null ? 0 : counter.count();
    }

    /** One tick of the job's timer on {@code router}, as the timer fires it (through the route and its policy). */
    static void tick(RunningBroker router, String job) throws Exception {
        DefaultConsumer timer = (DefaultConsumer) router.context().getRoute(job).getConsumer();
        Exchange exchange = new DefaultExchange(router.context());
        timer.getProcessor().process(exchange);
        if (exchange.getException() != null) {
            throw exchange.getException();
        }
    }

    @Test
    void aJobTriggeredOnBothRoutersAtOnceRunsOnce() throws Exception {
        // what the route's steps do, counted on each router: the policy's metric aside, a skipped tick runs nothing
        java.util.concurrent.atomic.AtomicInteger stepsRan = new java.util.concurrent.atomic.AtomicInteger();
        for (int n = 1; n <= 2; n++) {
            for (String job : List.of("queue-cleanup", "ledger-cleanup")) {
                org.apache.camel.builder.AdviceWith.adviceWith(pair.router(n).context(), job,
                        route -> route.weaveAddFirst().process(exchange -> stepsRan.incrementAndGet()));
            }
        }
        for (String job : List.of("queue-cleanup", "ledger-cleanup")) {
            try (Connection connection = pair.postgres().getConnection();
                 PreparedStatement fresh = connection.prepareStatement("DELETE FROM job_leases WHERE job = ?")) {
                fresh.setString(1, job); // as a new cluster: no run yet
                fresh.executeUpdate();
            }
            stepsRan.set(0);
            double before = runs(pair.router(1), job) + runs(pair.router(2), job);
            CountDownLatch ready = new CountDownLatch(2);
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                List<Future<Object>> ticks = new java.util.ArrayList<>();
                for (int n = 1; n <= 2; n++) {
                    RunningBroker router = pair.router(n);
                    ticks.add(threads.submit(() -> {
                        ready.countDown();
                        ready.await();
                        tick(router, job);
                        return null;
                    }));
                }
                for (Future<Object> t : ticks) {
                    t.get();
                }
            } finally {
                threads.shutdownNow();
            }
            assertThat(runs(pair.router(1), job) + runs(pair.router(2), job)).as(job).isEqualTo(before + 1);
            assertThat(stepsRan).as(job).hasValue(1);
            // and not again within the hour's interval, on either router
            tick(pair.router(1), job);
            tick(pair.router(2), job);
            assertThat(runs(pair.router(1), job) + runs(pair.router(2), job)).as(job).isEqualTo(before + 1);
            assertThat(stepsRan).as(job).hasValue(1);
        }
    }

    @Test
    void aLeaseLeftByARouterThatDiedMidRunEndsAndTheOtherRouterTakesOver() throws Exception {
        String job = "queue-cleanup";
        try (Connection connection = pair.postgres().getConnection()) {
            // as a router leaves it that dies during a run: its lease runs 10 s more; its run started a day ago
            tick(pair.router(1), job); // the row exists
            try (PreparedStatement dead = connection.prepareStatement("UPDATE job_leases SET owner = 'router-dead', "
                    + "started_at = CURRENT_TIMESTAMP - INTERVAL '1' DAY, lease_until = CURRENT_TIMESTAMP + INTERVAL '10' SECOND "
                    + "WHERE job = ?")) {
                dead.setString(1, job);
                assertThat(dead.executeUpdate()).isEqualTo(1);
            }
            double before = runs(pair.router(2), job) + runs(pair.router(1), job);
            tick(pair.router(2), job);
            tick(pair.router(1), job);
            try (var rows = connection.createStatement().executeQuery(
                    "SELECT owner, lease_until > CURRENT_TIMESTAMP FROM job_leases WHERE job = 'queue-cleanup'")) {
                assertThat(rows.next()).isTrue();
                if (rows.getBoolean(2)) { // still within the dead router's lease: neither ran it
                    assertThat(rows.getString(1)).isEqualTo("router-dead");
                    assertThat(runs(pair.router(2), job) + runs(pair.router(1), job)).isEqualTo(before);
                }
            }
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).until(() -> {
                tick(pair.router(2), job);
                return runs(pair.router(2), job) + runs(pair.router(1), job) > before;
            });
            try (var rows = connection.createStatement().executeQuery(
                    "SELECT owner, lease_until FROM job_leases WHERE job = 'queue-cleanup'")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).isEqualTo(RouterPair.instanceId(2));
                assertThat(rows.getObject(2)).as("the run ended its lease").isNull();
            }
        }
    }

    @Test
    void alertsAreEvaluatedAndPublishedByOneRouterOnly() throws Exception {
        List<JsonNode> events = new CopyOnWriteArrayList<>();
        Session session = pair.router(1).session();
        MessageConsumer subscriber = session.createConsumer(session.createTopic("mas.alerts"));
        subscriber.setMessageListener(message -> {
            try {
                events.add(JSON.readTree(((TextMessage) message).getText()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            String agent = Envelopes.uniqueAgent("deep");
            String queue = "mas.agent." + agent;
            for (int i = 0; i < 3; i++) {
                assertThat(pair.router(1 + i % 2).postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
            }
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(about(events, queue)).hasSize(1));
            // several more evaluations (every 2 s, by either router's timer): still the one event
            double evaluations = runs(pair.router(1), "alert-evaluation") + runs(pair.router(2), "alert-evaluation");
            await().atMost(Duration.ofSeconds(60)).until(() -> runs(pair.router(1), "alert-evaluation")
                    + runs(pair.router(2), "alert-evaluation") >= evaluations + 3);
            assertThat(about(events, queue)).hasSize(1);
            assertThat(about(events, queue).get(0).get("state").asText()).isEqualTo("firing");
            // the alert history is the evaluating router's: one router shows the alert active, the other does not
            int showing = 0;
            for (int n = 1; n <= 2; n++) {
                JsonNode alerts = JSON.readTree(pair.router(n).get("/api/alerts", RunningBroker.API_KEY).body());
                showing += alerts.get("active").findValuesAsText("subject").contains(queue) ? 1 : 0;
            }
            assertThat(showing).isEqualTo(1);
        } finally {
            subscriber.close();
            session.close();
        }
    }

    /** Last: it stops a router. */
    @Test
    @org.junit.jupiter.api.Order(Integer.MAX_VALUE)
    void whenTheRouterThatEvaluatesAlertsStopsTheOtherTakesOver() throws Exception {
        String job = "alert-evaluation";
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(pair.router(1), job) + runs(pair.router(2), job) > 0);
        String owner = new JobLeases(pair.postgres(), Duration.ofMinutes(5)).lastOwner(job).orElseThrow();
        int evaluating = owner.equals(RouterPair.instanceId(1)) ? 1 : 2;
        int other = 3 - evaluating;
        double otherBefore = runs(pair.router(other), job);
        pair.stop(evaluating);
        // its last run ended its lease; the other router runs the job once two intervals (4 s) passed since that run
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(pair.router(other), job) > otherBefore);
    }

    private static List<JsonNode> about(List<JsonNode> events, String subject) {
        return events.stream().filter(e -> e.get("subject").asText().equals(subject)).toList();
    }
}
