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
        if (upToDate(dataSource, store)) {
            LOG.info("Ledger store '{}' ready (schema up to date): {}", store, redact(dataSource.getJdbcUrl()));
            return dataSource;
        }
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

    /**
     * Whether the store's schema has every migration of {@code db/<store>/} applied, as Flyway applied it: its history
     * table lists exactly these versioned migrations, each successful and with the checksum Flyway computes for the
     * file, and nothing failed. Then Flyway is not needed at this start (loading it, scanning and validating cost more
     * than the whole start of a store); anything else, including any doubt, and Flyway runs as before (it migrates,
     * or refuses a changed or failed migration).
     */
    static boolean upToDate(DataSource dataSource, String store) {
        java.util.Map<String, Integer> files;
        try {
            files = migrations(store);
        } catch (java.io.IOException | RuntimeException e) {
            LOG.debug("Ledger store '{}': migrations not listed ({}), Flyway checks them", store, e.toString());
            return false;
        }
        if (files.isEmpty()) {
            return false;
        }
        java.util.Map<String, Integer> applied = new java.util.HashMap<>();
        try (java.sql.Connection connection = dataSource.getConnection();
             java.sql.Statement statement = connection.createStatement()) {
            try (java.sql.ResultSet rows = statement.executeQuery("SELECT \"version\", \"type\", \"checksum\", \"success\" FROM "
                    + "\"flyway_history_" + store + "\"")) {
                while (rows.next()) {
                    String type = rows.getString(2);
                    if (!rows.getBoolean(4)) {
                        return false; // a failed migration: Flyway says what to do
                    }
                    if ("BASELINE".equals(type) || "SCHEMA".equals(type) || "TABLE".equals(type)) {
                        continue; // markers: a shared database's baseline, schemas or the history table Flyway made
                    }
                    int checksum = rows.getInt(3);
                    if (rows.wasNull() || !"SQL".equals(type) || applied.put(rows.getString(1), checksum) != null) {
                        LOG.debug("Ledger store '{}': history row {} {} not a plain migration, Flyway checks it", store,
                                rows.getString(1), type);
                        return false;
                    }
                }
            }
        } catch (java.sql.SQLException e) { // no history table yet, most often
            LOG.debug("Ledger store '{}': history not read ({}), Flyway checks it", store, e.toString());
            return false;
        }
        if (!applied.equals(files)) {
            LOG.debug("Ledger store '{}': applied {}, files {}: Flyway migrates", store, applied, files);
            return false;
        }
        return true;
    }

    private static final java.util.regex.Pattern MIGRATION = java.util.regex.Pattern.compile("V([0-9_.]+)__.*\\.sql");

    /** The versioned migrations of {@code db/<store>/} (from the jar or a classes directory): version -> checksum. */
    static java.util.Map<String, Integer> migrations(String store) throws java.io.IOException {
        String folder = "db/" + store;
        ClassLoader loader = LedgerDatabases.class.getClassLoader();
        java.net.URL url = loader.getResource(folder);
        if (url == null) {
            return java.util.Map.of();
        }
        java.util.List<String> names = new ArrayList<>();
        if (url.getProtocol().equals("jar")) {
            java.net.JarURLConnection jar = (java.net.JarURLConnection) url.openConnection();
            jar.setUseCaches(false);
            try (java.util.jar.JarFile file = jar.getJarFile()) {
                file.stream().map(java.util.jar.JarEntry::getName).filter(n -> n.startsWith(folder + "/") && !n.endsWith("/"))
                        .map(n -> n.substring(folder.length() + 1)).filter(n -> !n.contains("/")).forEach(names::add);
            }
        } else if (url.getProtocol().equals("file")) {
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(Path.of(java.net.URI.create(url.toString())))) {
                files.filter(java.nio.file.Files::isRegularFile).map(f -> f.getFileName().toString()).forEach(names::add);
            }
        } else {
            throw new java.io.IOException("migrations at " + url + ": not a jar or a folder");
        }
        java.util.Map<String, Integer> migrations = new java.util.HashMap<>();
        for (String name : names) {
            java.util.regex.Matcher m = MIGRATION.matcher(name);
            if (!m.matches()) {
                throw new java.io.IOException("not a versioned migration, Flyway decides: " + name);
            }
            try (java.io.InputStream in = loader.getResourceAsStream(folder + "/" + name)) {
                if (in == null) {
                    throw new java.io.IOException("cannot read " + folder + "/" + name);
                }
                migrations.put(m.group(1).replace('_', '.'), checksum(in));
            }
        }
        return migrations;
    }

    /** Flyway's checksum of a SQL migration: CRC32 of its lines (UTF-8, without line ends and a byte-order mark). */
    static int checksum(java.io.InputStream in) throws java.io.IOException {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        java.io.BufferedReader reader = new java.io.BufferedReader(new java.io.InputStreamReader(in,
                java.nio.charset.StandardCharsets.UTF_8), 4096);
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            if (line.startsWith("\uFEFF")) {
                line = line.substring(1);
            }
            crc.update(line.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        return (int) crc.getValue();
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
