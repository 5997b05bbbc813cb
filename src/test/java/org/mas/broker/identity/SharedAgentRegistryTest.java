package org.mas.broker.identity;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import org.mas.broker.support.Envelopes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Two agent registries on one real PostgreSQL, as two routers (or a router and a standalone broker's security
 * manager) share databases.queues: what one writes, the other learns within its refresh and tells its listeners; their
 * writes are conditional, so one id is registered once and no change overwrites another's unseen.
 */
@Timeout(180)
class SharedAgentRegistryTest {

    private static EmbeddedPostgres postgres;
    private static HikariDataSource poolA;
    private static HikariDataSource poolB;

    private AgentRegistry a;
    private AgentRegistry b;
    private final List<AgentRegistry.Change> seenByB = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService refresher;

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        poolA = pool("a");
        poolB = pool("b");
        Flyway.configure().dataSource(poolA).locations("classpath:db/queues").table("flyway_history_queues")
                .baselineOnMigrate(true).baselineVersion("0").load().migrate();
    }

    private static HikariDataSource pool(String name) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("registry-" + name);
        config.setJdbcUrl(postgres.getJdbcUrl("postgres", "postgres"));
        config.setMaximumPoolSize(4);
        return new HikariDataSource(config);
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        poolA.close();
        poolB.close();
        postgres.close();
    }

    @BeforeEach
    void twoProcesses() throws Exception {
        a = new AgentRegistry(poolA, 4);
        a.load(List.of());
        b = new AgentRegistry(poolB, 4);
        b.load(List.of());
        b.subscribe(seenByB::add);
        refresher = Executors.newScheduledThreadPool(2);
        a.refreshEvery(Duration.ofMillis(200), refresher);
        b.refreshEvery(Duration.ofMillis(200), refresher);
    }

    @AfterEach
    void stopRefreshing() {
        refresher.shutdownNow();
    }

    private List<AgentRegistry.Change.Kind> kindsSeenByB(String id) {
        return seenByB.stream().filter(c -> c.agent().id().equals(id)).map(AgentRegistry.Change::kind).toList();
    }

    @Test
    void aRegistrationOnOneIsKnownOnTheOtherAndAuthenticatesThere() throws Exception {
        String id = Envelopes.uniqueAgent("shared");
        AgentRegistry.Issued issued = a.register(id, List.of("summarize"), List.of("monitor"), null);

        await().atMost(Duration.ofSeconds(10)).until(() -> b.find(id).isPresent());
        assertThat(b.authenticate(id, issued.secret())).isPresent();
        assertThat(b.authenticate(id, "wrong")).isEmpty();
        assertThat(b.list()).extracting(RegisteredAgent::id).contains(id);
        assertThat(b.offers(id, "summarize")).isTrue();
        assertThat(b.isOffered("summarize")).isTrue();
        assertThat(b.find(id).get().hasRole("monitor")).isTrue();
        assertThat(kindsSeenByB(id)).containsExactly(AgentRegistry.Change.Kind.REGISTERED);
    }

    @Test
    void aRotationOnOneMakesTheOldSecretFailOnTheOther() throws Exception {
        String id = Envelopes.uniqueAgent("rotated");
        String first = a.register(id, List.of(), List.of(), null).secret();
        await().atMost(Duration.ofSeconds(10)).until(() -> b.authenticate(id, first).isPresent());
        RegisteredAgent loggedIn = b.find(id).orElseThrow();

        String second = a.rotate(id).secret();
        await().atMost(Duration.ofSeconds(10)).until(() -> b.authenticate(id, first).isEmpty());
        assertThat(b.authenticate(id, second)).isPresent();
        assertThat(b.isCurrent(loggedIn)).as("a login made with the old record loses its permissions").isFalse();
        assertThat(kindsSeenByB(id)).containsExactly(AgentRegistry.Change.Kind.REGISTERED, AgentRegistry.Change.Kind.SECRET_ROTATED);

        b.disable(id);
        await().atMost(Duration.ofSeconds(10)).until(() -> !a.isEnabled(id));
        assertThat(a.authenticate(id, second)).isEmpty();
    }

    @Test
    void theSameIdRegisteredOnBothAtOnceIsRegisteredExactlyOnce() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 10; round++) {
                String id = Envelopes.uniqueAgent("race");
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Optional<AgentRegistry.Issued>>> outcomes = new ArrayList<>();
                for (AgentRegistry registry : List.of(a, b)) {
                    Callable<Optional<AgentRegistry.Issued>> register = () -> {
                        go.await();
                        try {
                            return Optional.of(registry.register(id, List.of(), List.of(), null));
                        } catch (RegistryException e) {
                            assertThat(e.reason()).isEqualTo(RegistryException.Reason.EXISTS);
                            return Optional.empty();
                        }
                    };
                    outcomes.add(threads.submit(register));
                }
                go.countDown();
                List<AgentRegistry.Issued> won = new ArrayList<>();
                for (Future<Optional<AgentRegistry.Issued>> outcome : outcomes) {
                    outcome.get().ifPresent(won::add);
                }
                assertThat(won).as("round " + round).hasSize(1);
                String secret = won.get(0).secret();
                // the loser read the winner's row: both know the agent at once, with the winner's secret
                assertThat(a.authenticate(id, secret)).isPresent();
                assertThat(b.authenticate(id, secret)).isPresent();
            }
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aChangeOnAStaleSnapshotIsJudgedOnTheStoredRow() throws Exception {
        refresher.shutdownNow(); // a and b learn nothing of each other now but through their own writes
        String id = Envelopes.uniqueAgent("stale");
        String first = a.register(id, List.of(), List.of(), null).secret();
        b.reload();
        b.disable(id);
        // a still believes the agent enabled: its rotation must not bring it back
        assertThatThrownBy(() -> a.rotate(id)).isInstanceOfSatisfying(RegistryException.class,
                e -> assertThat(e.reason()).isEqualTo(RegistryException.Reason.DISABLED));
        assertThat(a.isEnabled(id)).isFalse();
        assertThat(a.authenticate(id, first)).isEmpty();

        // registered again on b; a (stale: disabled) registers it too: refused, the agent exists
        String again = b.register(id, List.of(), List.of(), null).secret();
        assertThatThrownBy(() -> a.register(id, List.of(), List.of(), null)).isInstanceOfSatisfying(RegistryException.class,
                e -> assertThat(e.reason()).isEqualTo(RegistryException.Reason.EXISTS));
        assertThat(a.authenticate(id, again)).isPresent();

        // rotated on b, then on a (stale): both apply, one after the other; the later secret is the one that works
        String onB = b.rotate(id).secret();
        String onA = a.rotate(id).secret();
        AgentRegistry fresh = new AgentRegistry(poolA, 4);
        fresh.reload();
        assertThat(fresh.authenticate(id, onA)).isPresent();
        assertThat(fresh.authenticate(id, onB)).isEmpty();
        assertThat(fresh.find(id).get().version()).isEqualTo(5); // registered, disabled, registered again, rotated twice

        // an agent another router registered a moment ago is found for the API before the next refresh
        String elsewhere = Envelopes.uniqueAgent("elsewhere");
        b.register(elsewhere, List.of(), List.of(), null);
        assertThat(a.find(elsewhere)).isEmpty();
        assertThat(a.lookup(elsewhere)).isPresent();
    }
}
