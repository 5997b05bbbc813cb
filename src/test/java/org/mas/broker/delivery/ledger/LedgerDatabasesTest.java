package org.mas.broker.delivery.ledger;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;

import javax.sql.DataSource;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.config.BrokerSettings;
import org.mas.broker.config.SettingsLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Flyway runs at start-up only when a store's schema is not exactly as its migrations make it. */
@Timeout(120)
class LedgerDatabasesTest {

    private static final String[] STORES = {"messages", "queues", "delivery"};

    @TempDir
    Path dir;

    private BrokerSettings settings(Map<String, String> env) {
        Map<String, String> all = new HashMap<>(env);
        all.put("MESSAGE_BROKER_DATA_DIR", dir.toString());
        return SettingsLoader.load(null, all);
    }

    @Test
    void aFreshDatabaseIsMigratedThenTheNextStartFindsItUpToDateWithFlywaysOwnChecksums() throws Exception {
        try (LedgerDatabases databases = new LedgerDatabases(settings(Map.of()))) {
            for (String store : STORES) {
                DataSource data = store(databases, store);
                assertThat(history(data, store)).isEqualTo(LedgerDatabases.migrations(store)); // Flyway's checksums
                assertThat(LedgerDatabases.upToDate(data, store)).isTrue();
            }
            assertThat(LedgerDatabases.migrations("delivery")).containsKey("4.1").hasSize(4);
        }
        try (LedgerDatabases again = new LedgerDatabases(settings(Map.of()))) {
            assertThat(tableExists(again.delivery(), "JOB_LEASES")).isTrue();
        }
    }

    @Test
    void anOldDatabaseIsNotUpToDateAndIsMigratedAtStart() throws Exception {
        Path file = dir.resolve("db").resolve("delivery_db");
        String url = "jdbc:h2:file:" + file.toAbsolutePath() + ";DB_CLOSE_ON_EXIT=FALSE";
        Flyway.configure().dataSource(url, "", "").locations("classpath:db/delivery").table("flyway_history_delivery")
                .target("2").load().migrate(); // an older router's schema: V1, V2
        org.h2.jdbcx.JdbcDataSource old = new org.h2.jdbcx.JdbcDataSource();
        old.setURL(url);
        assertThat(LedgerDatabases.upToDate(old, "delivery")).isFalse();

        try (LedgerDatabases databases = new LedgerDatabases(settings(Map.of()))) {
            assertThat(history(databases.delivery(), "delivery")).containsOnlyKeys("1", "2", "3", "4.1");
            assertThat(tableExists(databases.delivery(), "JOB_LEASES")).isTrue();
            assertThat(LedgerDatabases.upToDate(databases.delivery(), "delivery")).isTrue();
        }
    }

    @Test
    void aChangedOrFailedMigrationIsLeftToFlywayWhichRefusesIt() throws Exception {
        new LedgerDatabases(settings(Map.of())).close();
        try (LedgerDatabases databases = new LedgerDatabases(settings(Map.of()))) {
            execute(databases.queues(), "UPDATE \"flyway_history_queues\" SET \"checksum\" = \"checksum\" + 1 WHERE \"version\" = '2'");
            assertThat(LedgerDatabases.upToDate(databases.queues(), "queues")).isFalse();
            execute(databases.queues(), "UPDATE \"flyway_history_queues\" SET \"checksum\" = \"checksum\" - 1 WHERE \"version\" = '2'");
            assertThat(LedgerDatabases.upToDate(databases.queues(), "queues")).isTrue();
            execute(databases.queues(), "UPDATE \"flyway_history_queues\" SET \"checksum\" = 7 WHERE \"version\" = '2'");
            execute(databases.messages(), "UPDATE \"flyway_history_messages\" SET \"success\" = FALSE WHERE \"version\" = '5'");
            assertThat(LedgerDatabases.upToDate(databases.messages(), "messages")).isFalse();
        }
        // as before the fast path: Flyway's validation stops the start, naming the migration
        assertThatThrownBy(() -> new LedgerDatabases(settings(Map.of()))).isInstanceOf(FlywayException.class);
    }

    @Test
    void threeStoresInOnePostgresqlDatabaseAreUpToDateAfterTheirMigrations() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            String url = postgres.getJdbcUrl("postgres", "postgres");
            Map<String, String> env = Map.of("MESSAGE_BROKER_DATABASES_MESSAGES", url,
                    "MESSAGE_BROKER_DATABASES_QUEUES", url, "MESSAGE_BROKER_DATABASES_DELIVERY", url);
            try (LedgerDatabases databases = new LedgerDatabases(settings(env))) {
                for (String store : STORES) { // the second and third store were baselined at 0 (a shared database)
                    assertThat(LedgerDatabases.upToDate(store(databases, store), store)).as(store).isTrue();
                }
            }
            try (LedgerDatabases again = new LedgerDatabases(settings(env))) {
                assertThat(tableExists(again.delivery(), "job_leases")).isTrue();
            }
        }
    }

    private static DataSource store(LedgerDatabases databases, String store) {
        return switch (store) {
            case "messages" -> databases.messages();
            case "queues" -> databases.queues();
            default -> databases.delivery();
        };
    }

    /** The successful versioned migrations of the history table: version -> checksum. */
    private static Map<String, Integer> history(DataSource data, String store) throws Exception {
        Map<String, Integer> applied = new HashMap<>();
        try (Connection c = data.getConnection(); Statement s = c.createStatement();
             ResultSet rows = s.executeQuery("SELECT \"version\", \"checksum\" FROM \"flyway_history_" + store
                     + "\" WHERE \"type\" = 'SQL' AND \"success\"")) {
            while (rows.next()) {
                applied.put(rows.getString(1), rows.getInt(2));
            }
        }
        return applied;
    }

    private static boolean tableExists(DataSource data, String table) throws Exception {
        try (Connection c = data.getConnection(); ResultSet tables = c.getMetaData().getTables(null, null, table, null)) {
            return tables.next();
        }
    }

    private static void execute(DataSource data, String sql) throws Exception {
        try (Connection c = data.getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate(sql);
        }
    }
}
