package org.mas.broker.delivery.ledger;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import javax.sql.DataSource;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.config.BrokerSettings;
import org.mas.broker.config.ConfigurationException;

/**
 * The ledger's three stores, named by {@code databases.messages/.queues/.delivery}: a name is an embedded H2 database
 * file under {@code <data_dir>/db/}, a {@code jdbc:} URL (PostgreSQL) is used as it is. Each store's schema is
 * migrated by Flyway from {@code db/<store>/} at start-up, with its own history table so that stores may share one
 * database.
 */
public final class LedgerDatabases implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerDatabases.class);

    private final HikariDataSource messages;
    private final HikariDataSource queues;
    private final HikariDataSource delivery;
    private final List<HikariDataSource> all = new ArrayList<>();

    public LedgerDatabases(BrokerSettings settings) {
        BrokerSettings.Databases names = settings.databases();
        try {
            messages = open("messages", names.messages(), settings.dataDir());
            queues = open("queues", names.queues(), settings.dataDir());
            delivery = open("delivery", names.delivery(), settings.dataDir());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public DataSource messages() {
        return messages;
    }

    public DataSource queues() {
        return queues;
    }

    public DataSource delivery() {
        return delivery;
    }

    /** The JDBC URL a configured database entry stands for. */
    static String url(String entry, String dataDir) {
        if (entry.startsWith("jdbc:")) {
            return entry;
        }
        Path file = Path.of(dataDir, "db", entry).toAbsolutePath();
        return "jdbc:h2:file:" + file + ";DB_CLOSE_ON_EXIT=FALSE";
    }

    private HikariDataSource open(String store, String entry, String dataDir) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("ledger-" + store);
        config.setJdbcUrl(url(entry, dataDir));
        // the delivery store also serves the acknowledgment deadlines' claims, which hold a connection while they send
        config.setMaximumPoolSize(store.equals("delivery") ? 8 : 4);
        config.setMinimumIdle(1);
        config.setInitializationFailTimeout(10_000);
        config.setConnectionTimeout(5_000); // a read on the message path (idempotency) never waits 30 s for a connection
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new ConfigurationException("message_broker.databases." + store + ": cannot open '" + redact(entry) + "': "
                    + e.getMessage(), e);
        }
        all.add(dataSource);
        Flyway flyway = Flyway.configure().dataSource(dataSource).locations("classpath:db/" + store)
                .table("flyway_history_" + store)
                // stores may share one database: a schema that holds another store's tables is baselined at 0, not 1
                .baselineOnMigrate(true).baselineVersion("0").load();
        for (int attempt = 1; ; attempt++) {
            try {
                flyway.migrate();
                break;
            } catch (org.flywaydb.core.api.FlywayException e) {
                // routers starting together on a new database: another one created the history table a moment ago
                // (Flyway locks the migrations, not that first baseline); its migrations are then seen and waited for
                if (attempt == 5) {
                    dataSource.close();
                    throw e;
                }
                LOG.info("Ledger store '{}': migration attempt {} failed ({}), trying again", store, attempt,
                        e.getMessage().lines().findFirst().orElse(""));
                try {
                    Thread.sleep(500L * attempt);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    dataSource.close();
                    throw e;
                }
            }
        }
        LOG.info("Ledger store '{}' ready: {}", store, redact(dataSource.getJdbcUrl()));
        return dataSource;
    }

    /** A URL without its password. */
    static String redact(String url) {
        return org.mas.broker.LogSafe.withoutPassword(url);
    }

    @Override
    public void close() {
        for (HikariDataSource dataSource : all) {
            dataSource.close();
        }
    }
}
