package org.mas.broker.cluster;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import javax.sql.DataSource;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The singleton-job lock itself, on H2 (the single-node default) and on PostgreSQL (a cluster's ledger). */
class JobLeasesTest {

    private static final Duration HOUR = Duration.ofHours(1);

    @TempDir
    static Path dir;

    static EmbeddedPostgres postgres;
    static DataSource h2;

    @BeforeAll
    static void databases() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        JdbcDataSource file = new JdbcDataSource();
        file.setURL("jdbc:h2:file:" + dir.resolve("delivery").toAbsolutePath() + ";DB_CLOSE_ON_EXIT=FALSE");
        h2 = file;
        for (DataSource database : List.of(h2, postgres.getPostgresDatabase())) {
            Flyway.configure().dataSource(database).locations("classpath:db/delivery").table("flyway_history_delivery")
                    .load().migrate();
        }
    }

    @AfterAll
    static void stop() throws Exception {
        postgres.close();
    }

    private static DataSource database(String name) {
        return name.equals("h2") ? h2 : postgres.getPostgresDatabase();
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void ofRoutersStartingTheSameJobAtOnceExactlyOneRunsIt(String db) throws Exception {
        JobLeases leases = new JobLeases(database(db), Duration.ofMinutes(5));
        String job = "at-once-" + db;
        int routers = 8;
        CountDownLatch ready = new CountDownLatch(routers);
        ExecutorService threads = Executors.newFixedThreadPool(routers);
        try {
            List<Future<Boolean>> started = new ArrayList<>();
            for (int n = 1; n <= routers; n++) {
                String owner = "router-" + n;
                Callable<Boolean> start = () -> {
                    ready.countDown();
                    ready.await();
                    return leases.tryStart(job, owner, HOUR);
                };
                started.add(threads.submit(start));
            }
            int winners = 0;
            for (Future<Boolean> result : started) {
                winners += result.get() ? 1 : 0;
            }
            assertThat(winners).isEqualTo(1);
        } finally {
            threads.shutdownNow();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void theRouterThatRanAJobKeepsItAndAnotherTakesOverOnceItMissesARun(String db) throws Exception {
        JobLeases leases = new JobLeases(database(db), Duration.ofMinutes(5));
        String job = "spacing-" + db;
        Duration interval = Duration.ofSeconds(2);
        assertThat(leases.tryStart(job, "router-1", interval)).isTrue();
        assertThat(leases.tryStart(job, "router-2", interval)).as("a run is in progress").isFalse();
        leases.finish(job, "router-1");
        assertThat(leases.tryStart(job, "router-2", interval)).as("router-1 ran it just now").isFalse();
        assertThat(leases.tryStart(job, "router-1", interval)).as("too soon after its own run").isFalse();
        // after half an interval the router that ran it may run it again; the other only after two
        await().until(() -> leases.tryStart(job, "router-1", interval));
        leases.finish(job, "router-1");
        assertThat(leases.tryStart(job, "router-2", interval)).isFalse();
        await().atMost(Duration.ofSeconds(30)).until(() -> leases.tryStart(job, "router-2", interval));
        assertThat(leases.lastOwner(job)).contains("router-2");
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void aLeaseLeftByARouterThatDiedMidRunEndsAndAnotherTakesOver(String db) throws Exception {
        JobLeases dead = new JobLeases(database(db), Duration.ofSeconds(2));
        JobLeases alive = new JobLeases(database(db), Duration.ofSeconds(2));
        String job = "dead-owner-" + db;
        assertThat(dead.tryStart(job, "router-dead", Duration.ZERO)).isTrue();
        // router-dead never calls finish
        assertThat(alive.tryStart(job, "router-2", Duration.ZERO)).isFalse();
        await().atMost(Duration.ofSeconds(30)).until(() -> alive.tryStart(job, "router-2", Duration.ZERO));
        assertThat(alive.lastOwner(job)).contains("router-2");
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void theLeaseTimesAreTheDatabasesOwn(String db) throws Exception {
        JobLeases leases = new JobLeases(database(db), Duration.ofSeconds(60));
        String job = "clock-" + db;
        assertThat(leases.tryStart(job, "router-1", Duration.ZERO)).isTrue();
        try (Connection connection = database(db).getConnection();
             var rows = connection.createStatement().executeQuery("SELECT lease_until > CURRENT_TIMESTAMP, "
                     + "lease_until < CURRENT_TIMESTAMP + INTERVAL '61' SECOND FROM job_leases WHERE job = '" + job + "'")) {
            assertThat(rows.next()).isTrue();
            assertThat(rows.getBoolean(1)).isTrue();
            assertThat(rows.getBoolean(2)).isTrue();
        }
    }
}
