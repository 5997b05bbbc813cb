package org.mas.broker.queues;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

import javax.security.auth.Subject;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.apache.activemq.artemis.core.security.CheckType;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.core.server.ActivateCallback;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager5;
import org.apache.activemq.artemis.spi.core.security.jaas.NoCacheLoginException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.Secrets;

/**
 * A standalone Artemis's security manager: agents authenticate against the routers' agent registry (the
 * {@code agents} table of {@code databases.queues}, PostgreSQL), with the same rules as on the embedded broker
 * ({@link AgentSecurityManager}, {@link BrokerSecurity}: one implementation). Loaded by Artemis from bootstrap.xml:
 * <pre>{@code
 * <security-manager class-name="org.mas.broker.queues.RegistrySecurityManager">
 *   <property key="jdbc-url" value="jdbc:postgresql://db:5432/mas"/>
 *   <property key="jdbc-user" value="mas"/>
 *   <property key="jdbc-password-env" value="MAS_REGISTRY_DB_PASSWORD"/>
 *   <property key="router-password-hash" value="$2a$12$..."/>
 * </security-manager>}</pre>
 * and attached to the running broker by {@link DurableIngressPlugin} (broker.xml's broker plugin), which gives it the
 * server: security settings, the registered agents' queues, and closing a rotated or disabled agent's connections.
 * The registry is read at start and its changes picked up every {@value #REFRESH_INTERVAL_MS} (1000 ms by default);
 * the routers make and migrate the table (a broker that starts first authenticates agents once a router has).
 */
public class RegistrySecurityManager implements ActiveMQSecurityManager5 {

    /** The registry's database (the routers' {@code databases.queues}); required. */
    public static final String JDBC_URL = "jdbc-url";
    public static final String JDBC_USER = "jdbc-user";
    /** The database password itself, or (preferred) the name of the environment variable that holds it. */
    public static final String JDBC_PASSWORD = "jdbc-password";
    public static final String JDBC_PASSWORD_ENV = "jdbc-password-env";
    /** The router's user ({@link MasNames#ROUTER_USER}) password: its bcrypt hash, or the environment variable holding it. */
    public static final String ROUTER_PASSWORD_HASH = "router-password-hash";
    public static final String ROUTER_PASSWORD_ENV = "router-password-env";
    /** true: connections without credentials may do anything (development only); default false. */
    public static final String ALLOW_ANONYMOUS = "allow-anonymous";
    /** How often other processes' registry changes are picked up, ms; default 1000. */
    public static final String REFRESH_INTERVAL_MS = "refresh-interval-ms";
    /** The cost of the agents' hashes (an unknown agent's check takes as long as a known one's); default 12. */
    public static final String BCRYPT_COST = "bcrypt-cost";

    private static final Logger LOG = LoggerFactory.getLogger(RegistrySecurityManager.class);

    private AgentRegistry registry;
    private BrokerSecurity security;
    private AgentSecurityManager manager;
    private HikariDataSource database;
    private ScheduledExecutorService refresher;

    /** For bootstrap.xml: configured by {@link #init}. */
    public RegistrySecurityManager() {
    }

    @Override
    public ActiveMQSecurityManager init(Map<String, String> properties) {
        Map<String, String> p = properties == null ? Map.of() : properties;
        String url = required(p, JDBC_URL);
        boolean anonymous = Boolean.parseBoolean(p.getOrDefault(ALLOW_ANONYMOUS, "false").trim());
        long refreshMs = Long.parseLong(p.getOrDefault(REFRESH_INTERVAL_MS, "1000").trim());
        int cost = Integer.parseInt(p.getOrDefault(BCRYPT_COST, String.valueOf(Secrets.DEFAULT_COST)).trim());
        AgentSecurityManager.RouterLogin router = routerLogin(p);

        HikariConfig config = new HikariConfig();
        config.setPoolName("agent-registry");
        config.setJdbcUrl(url);
        config.setUsername(p.get(JDBC_USER));
        config.setPassword(secret(p, JDBC_PASSWORD, JDBC_PASSWORD_ENV));
        config.setMaximumPoolSize(2);
        config.setMinimumIdle(0);
        config.setInitializationFailTimeout(-1); // the database may come up after the broker: the refresh retries
        config.setConnectionTimeout(5_000);
        database = new HikariDataSource(config);
        registry = new AgentRegistry(database, cost);
        try {
            registry.reload();
        } catch (SQLException | RuntimeException e) {
            LOG.warn("The agent registry at {} cannot be read yet ({}): no agent can log in until it can", redact(url), e.toString());
        }
        refresher = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "mas-agent-registry-refresh");
            thread.setDaemon(true);
            return thread;
        });
        registry.refreshEvery(Duration.ofMillis(refreshMs), refresher);
        security = new BrokerSecurity(registry, anonymous);
        manager = new AgentSecurityManager(registry, anonymous, router, protocol -> { });
        LOG.info("Agents authenticate against the registry at {}: {} enabled agent(s){}", redact(url),
                registry.enabledAgentIds().size(), anonymous ? "; ANONYMOUS CONNECTIONS MAY DO ANYTHING (allow-anonymous)" : "");
        return this;
    }

    /** Called by {@link DurableIngressPlugin} when the broker registers it: the server this manager secures. */
    void attach(ActiveMQServer server) {
        security.attach(server);
        server.registerActivateCallback(new ActivateCallback() {
            @Override
            public void shutdown(ActiveMQServer stopped) {
                close();
            }
        });
    }

    /** The registry this broker authenticates against (for tests). */
    public AgentRegistry registry() {
        return registry;
    }

    /** Stops the refresh and closes the database pool (when the broker shuts down). */
    public void close() {
        security.stopped();
        refresher.shutdownNow();
        database.close();
    }

    @Override
    public Subject authenticate(String user, String password, RemotingConnection connection, String securityDomain)
            throws NoCacheLoginException {
        return manager.authenticate(user, password, connection, securityDomain);
    }

    @Override
    public boolean authorize(Subject subject, Set<Role> roles, CheckType checkType, String address) {
        return manager.authorize(subject, roles, checkType, address);
    }

    @Override
    public boolean validateUser(String user, String password) {
        return false; // Artemis calls authenticate (ActiveMQSecurityManager5) instead
    }

    @Override
    public boolean validateUserAndRole(String user, String password, Set<Role> roles, CheckType checkType) {
        return false; // Artemis calls authorize (ActiveMQSecurityManager5) instead
    }

    private static AgentSecurityManager.RouterLogin routerLogin(Map<String, String> p) {
        String hash = p.get(ROUTER_PASSWORD_HASH);
        if (hash != null && !hash.isBlank()) {
            if (!Secrets.BCRYPT_HASH.matcher(hash.trim()).matches()) {
                throw new IllegalArgumentException(ROUTER_PASSWORD_HASH + " is not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters): "
                        + "make one with java -jar mas-message-broker.jar --hash-secret");
            }
            return AgentSecurityManager.RouterLogin.bcrypt(hash.trim());
        }
        String password = secret(p, null, ROUTER_PASSWORD_ENV);
        if (password != null && !password.isEmpty()) {
            return AgentSecurityManager.RouterLogin.password(password);
        }
        LOG.warn("Neither {} nor {} is set: the router's user {} cannot log in to this broker", ROUTER_PASSWORD_HASH,
                ROUTER_PASSWORD_ENV, MasNames.ROUTER_USER);
        return (given, connection) -> false;
    }

    /** The property itself, or the environment variable the {@code envKey} property names (which must be set). */
    private static String secret(Map<String, String> p, String key, String envKey) {
        String variable = p.get(envKey);
        if (variable != null && !variable.isBlank()) {
            String value = System.getenv(variable.trim());
            if (value == null) {
                throw new IllegalArgumentException(envKey + " names the environment variable " + variable.trim() + ", which is not set");
            }
            return value;
        }
        return key == null ? null : p.get(key);
    }

    private static String required(Map<String, String> p, String key) {
        String value = p.get(key);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(RegistrySecurityManager.class.getName() + ": the property " + key + " is required");
        }
        return value.trim();
    }

    private static String redact(String url) {
        return org.mas.broker.LogSafe.withoutPassword(url);
    }
}
