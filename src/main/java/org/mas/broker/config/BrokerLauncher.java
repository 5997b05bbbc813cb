package org.mas.broker.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.camel.CamelContext;
import org.apache.camel.builder.TemplatedRouteBuilder;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.RegisteredAgent;
import org.mas.broker.identity.Secrets;

/** Loads the settings (failing fast on a bad one) and assembles Camel Main around them. */
public final class BrokerLauncher {

    /** Camel's own settings: HTTP server, routes location, embedded broker acceptor (see the file's comments). */
    public static final String APPLICATION_PROPERTIES = "file:config/application.properties;optional=true";
    /** Command-line option: print the bcrypt hash of the secret read from stdin, then exit. */
    public static final String HASH_SECRET = "--hash-secret";

    private BrokerLauncher() {
    }

    /** @return the process exit code: 0 after an orderly shutdown, 2 for a bad configuration, 1 for other failures */
    public static int runFromCommandLine(String[] args, Map<String, String> env) throws Exception {
        String configFile = null;
        List<String> camelArgs = new ArrayList<>();
        if (List.of(args).contains(HASH_SECRET)) {
            return hashSecret(System.in, System.out, System.err);
        }
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) {
                configFile = args[++i];
            } else if (args[i].startsWith("--config=")) {
                configFile = args[i].substring("--config=".length());
            } else {
                camelArgs.add(args[i]);
            }
        }
        Main main;
        try {
            main = create(configFile, env, Map.of());
        } catch (ConfigurationException e) {
            System.err.println("Configuration error: " + e.getMessage());
            return 2;
        }
        try {
            main.run(camelArgs.toArray(String[]::new));
            return main.getExitCode();
        } catch (Exception e) {
            LoggerFactory.getLogger(BrokerLauncher.class).error("The broker could not start: {}", e.toString());
            return 1;
        }
    }

    /**
     * {@code --hash-secret}: reads an agent's secret from the first line of stdin and prints its bcrypt hash (cost
     * {@value Secrets#DEFAULT_COST}), for {@code message_broker.agents[].secret_hash}. Exit code 0, or 2 without a secret.
     */
    public static int hashSecret(java.io.InputStream in, java.io.PrintStream out, java.io.PrintStream err) throws java.io.IOException {
        String secret = new java.io.BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8)).readLine();
        if (secret == null || secret.isEmpty()) {
            err.println("--hash-secret: give the secret on stdin, e.g. echo -n \"$SECRET\" | java -jar mas-message-broker.jar --hash-secret");
            return 2;
        }
        if (secret.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 72) {
            err.println("--hash-secret: bcrypt reads at most 72 bytes of a secret; use a shorter one");
            return 2;
        }
        out.println(Secrets.hash(secret, Secrets.DEFAULT_COST));
        return 0;
    }

    /**
     * @param configFile the settings file named on the command line, or null
     * @param env        environment variables ({@code MESSAGE_BROKER_*} override settings)
     * @param overrides  Camel properties that take precedence over config/application.properties (tests use them)
     */
    public static Main create(String configFile, Map<String, String> env, Map<String, String> overrides) {
        BrokerSettings settings = SettingsLoader.load(SettingsLoader.resolveFile(configFile, env), env);
        Main main = new Main();
        main.setDefaultPropertyPlaceholderLocation(APPLICATION_PROPERTIES);
        main.bind(BrokerSettings.BEAN_NAME, settings);
        main.configure().addConfiguration(BrokerBeans.class);

        // names and values the YAML routes use as {{placeholders}}: defined once, here and in MasNames
        main.addInitialProperty("mas.queue.inbound", MasNames.INBOUND);
        main.addInitialProperty("mas.queue.acks", MasNames.ACKS);
        main.addInitialProperty("mas.queue.invalid", MasNames.INVALID);
        main.addInitialProperty("mas.queue.dlq", MasNames.DLQ);
        main.addInitialProperty("mas.queue.expired", MasNames.EXPIRED);
        main.addInitialProperty("mas.data-dir", settings.dataDir());
        main.addInitialProperty("mas.queue.expired-ledger", MasNames.EXPIRED_LEDGER);
        main.addInitialProperty("mas.cleanup-interval-ms", String.valueOf(settings.cleanupInterval() * 1000L));
        main.addInitialProperty("mas.routing-interval-ms", String.valueOf(settings.routingInterval() * 1000L));
        // the HTTP server refuses bodies far over the limit before they are buffered; the REST route answers 413 below
        main.addInitialProperty("camel.server.maxBodySize", String.valueOf(settings.maxMessageSize() * 2 + 64 * 1024));
        if (settings.security().tlsEnabled()) {
            // the REST API, /observe/health and /observe/metrics (one Vert.x server) speak HTTPS only, with the same
            // keystore as the Artemis acceptor; HTTP delivery to agents does not use these (it keeps the JVM's trust)
            BrokerSettings.Tls tls = settings.security().tls();
            main.addInitialProperty("camel.ssl.enabled", "true");
            main.addInitialProperty("camel.ssl.keyStore", "file:" + Path.of(tls.keystore()).toAbsolutePath());
            main.addInitialProperty("camel.ssl.keyStoreType", "PKCS12");
            main.addInitialProperty("camel.ssl.keystorePassword", nz(tls.keystorePassword()));
            main.addInitialProperty("camel.server.useGlobalSslContextParameters", "true");
            main.addInitialProperty("camel.management.useGlobalSslContextParameters", "true");
        }
        overrides.forEach(main::addOverrideProperty);
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterConfigure(BaseMainSupport configured) {
                addHttpDeliveryRoutes(configured.getCamelContext());
            }
        });
        return main;
    }

    private static String nz(String value) {
        return value == null ? "" : value;
    }

    /**
     * One route from the template in routes/delivery/http-endpoints.yaml per enabled agent of the registry that has an
     * HTTP endpoint (configured or registered through the API); added when such an agent registers, removed when it is
     * disabled.
     */
    private static void addHttpDeliveryRoutes(CamelContext context) {
        AgentRegistry registry = context.getRegistry().lookupByNameAndType("agentRegistry", AgentRegistry.class);
        for (RegisteredAgent agent : registry.enabledAgents()) {
            if (agent.endpoint() != null) {
                addHttpDeliveryRoute(context, agent);
            }
        }
        registry.subscribe(change -> {
            RegisteredAgent agent = change.agent();
            String routeId = HTTP_DELIVERY_ROUTE_PREFIX + agent.id();
            try {
                if (change.kind() == AgentRegistry.Change.Kind.REGISTERED && agent.endpoint() != null
                        && context.getRoute(routeId) == null) {
                    addHttpDeliveryRoute(context, agent);
                } else if (change.kind() == AgentRegistry.Change.Kind.DISABLED && context.getRoute(routeId) != null) {
                    context.getRouteController().stopRoute(routeId);
                    context.removeRoute(routeId);
                }
            } catch (Exception e) {
                throw new IllegalStateException("HTTP delivery route " + routeId + ": " + e.getMessage(), e);
            }
        });
    }

    private static final String HTTP_DELIVERY_ROUTE_PREFIX = "http-delivery-";

    private static void addHttpDeliveryRoute(CamelContext context, RegisteredAgent agent) {
        TemplatedRouteBuilder.builder(context, "http-delivery").routeId(HTTP_DELIVERY_ROUTE_PREFIX + agent.id())
                .parameter("agent", agent.id()).parameter("endpoint", agent.endpoint()).add();
    }
}
