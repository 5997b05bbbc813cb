package org.mas.broker.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

import org.mas.broker.identity.AgentSpec;
import org.mas.broker.identity.Secrets;

/**
 * Reads the module's settings: built-in defaults, then the YAML file, then {@code MESSAGE_BROKER_*} environment
 * variables (the key path in upper case with '_' between parts). Any bad value fails with a message naming the key.
 */
public final class SettingsLoader {

    public static final String ROOT = "message_broker";
    public static final String ENV_PREFIX = "MESSAGE_BROKER_";
    /** Names another settings file to read in place of config/message-broker.yaml. */
    public static final String ENV_CONFIG_FILE = "MESSAGE_BROKER_CONFIG";
    public static final Path DEFAULT_CONFIG_FILE = Path.of("config", "message-broker.yaml");

    private static final String DEFAULTS_RESOURCE = "/message-broker-defaults.yaml";
    private static final Pattern DATABASE = Pattern.compile("^([A-Za-z0-9_.-]{1,128}|jdbc:.+)$");
    private static final Set<String> JSON_VALUED_LISTS = Set.of("agents", "api_keys");

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);

    private SettingsLoader() {
    }

    /**
     * @param file the settings file; null when none was named and the default file does not exist
     * @param env  environment variables (only {@code MESSAGE_BROKER_*} are read)
     */
    public static BrokerSettings load(Path file, Map<String, String> env) {
        Map<String, Object> settings = section(readDefaults(), "built-in defaults");
        if (file != null) {
            merge(settings, section(readFile(file), file.toString()), ROOT);
        }
        applyEnvironment(settings, env);
        normalizeApiKeys(settings);
        BrokerSettings bound = bind(settings);
        validate(bound);
        return bound;
    }

    /** The settings file: {@code --config FILE}, else MESSAGE_BROKER_CONFIG, else config/message-broker.yaml if present. */
    public static Path resolveFile(String cliConfig, Map<String, String> env) {
        String named = cliConfig != null && !cliConfig.isBlank() ? cliConfig : env.get(ENV_CONFIG_FILE);
        if (named != null && !named.isBlank()) {
            Path path = Path.of(named);
            if (!Files.isRegularFile(path)) {
                throw new ConfigurationException("settings file " + path.toAbsolutePath() + " does not exist");
            }
            return path;
        }
        return Files.isRegularFile(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null;
    }

    private static Object readDefaults() {
        try (InputStream in = SettingsLoader.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
            return new Load(LoadSettings.builder().build()).loadFromInputStream(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + DEFAULTS_RESOURCE, e);
        }
    }

    private static Object readFile(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return new Load(LoadSettings.builder().setLabel(file.toString()).build()).loadFromInputStream(in);
        } catch (IOException e) {
            throw new ConfigurationException("cannot read settings file " + file + ": " + e.getMessage(), e);
        } catch (YamlEngineException e) {
            throw new ConfigurationException("settings file " + file + " is not valid YAML: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> section(Object document, String source) {
        if (document instanceof Map<?, ?> root && root.get(ROOT) instanceof Map<?, ?> section) {
            return new LinkedHashMap<>((Map<String, Object>) section);
        }
        throw new ConfigurationException(source + ": expected a top-level '" + ROOT + ":' section");
    }

    @SuppressWarnings("unchecked")
    private static void merge(Map<String, Object> target, Map<String, Object> source, String path) {
        for (Map.Entry<String, Object> entry : source.entrySet()) {
            String key = String.valueOf(entry.getKey());
            String keyPath = path + "." + key;
            if (!target.containsKey(key)) {
                throw new ConfigurationException(keyPath + ": unknown key (known keys under " + path + ": "
                        + String.join(", ", target.keySet()) + ")");
            }
            Object current = target.get(key);
            Object value = entry.getValue();
            if (current instanceof Map<?, ?> currentMap && value instanceof Map<?, ?> valueMap) {
                Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) currentMap);
                merge(copy, (Map<String, Object>) valueMap, keyPath);
                target.put(key, copy);
            } else if (current instanceof Map<?, ?>) {
                throw new ConfigurationException(keyPath + ": expected a mapping with keys "
                        + String.join(", ", ((Map<String, Object>) current).keySet()) + ", got '" + value + "'");
            } else {
                target.put(key, value);
            }
        }
    }

    private static void applyEnvironment(Map<String, Object> settings, Map<String, String> env) {
        Map<String, List<String>> byVariable = new LinkedHashMap<>();
        collectLeafPaths(settings, new ArrayList<>(), byVariable);
        for (Map.Entry<String, String> entry : env.entrySet()) {
            String variable = entry.getKey();
            if (!variable.startsWith(ENV_PREFIX) || variable.equals(ENV_CONFIG_FILE)) {
                continue;
            }
            List<String> path = byVariable.get(variable);
            if (path == null) {
                throw new ConfigurationException("environment variable " + variable + " matches no setting (known: "
                        + String.join(", ", byVariable.keySet()) + ")");
            }
            setPath(settings, path, envValue(variable, path, entry.getValue(), getPath(settings, path)));
        }
    }

    @SuppressWarnings("unchecked")
    private static void collectLeafPaths(Map<String, Object> map, List<String> prefix, Map<String, List<String>> out) {
        for (Map.Entry<String, Object> entry : map.entrySet()) {
            List<String> path = new ArrayList<>(prefix);
            path.add(entry.getKey());
            if (entry.getValue() instanceof Map<?, ?> nested) {
                collectLeafPaths((Map<String, Object>) nested, path, out);
            } else {
                out.put(ENV_PREFIX + String.join("_", path).toUpperCase(Locale.ROOT), path);
            }
        }
    }

    private static Object envValue(String variable, List<String> path, String raw, Object current) {
        if (!(current instanceof List<?>)) {
            return raw;
        }
        String trimmed = raw.trim();
        if (trimmed.startsWith("[") && JSON_VALUED_LISTS.contains(path.get(path.size() - 1))) {
            try {
                return MAPPER.readValue(trimmed, List.class);
            } catch (JsonProcessingException e) {
                throw new ConfigurationException(keyPath(path) + " (from " + variable + "): not a valid JSON list: "
                        + e.getOriginalMessage());
            }
        }
        return trimmed.isEmpty() ? List.of()
                : List.of(trimmed.split("\\s*,\\s*")).stream().filter(s -> !s.isEmpty()).collect(Collectors.toList());
    }

    @SuppressWarnings("unchecked")
    private static Object getPath(Map<String, Object> settings, List<String> path) {
        Object node = settings;
        for (String part : path) {
            node = ((Map<String, Object>) node).get(part);
        }
        return node;
    }

    @SuppressWarnings("unchecked")
    private static void setPath(Map<String, Object> settings, List<String> path, Object value) {
        Map<String, Object> node = settings;
        for (String part : path.subList(0, path.size() - 1)) {
            Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) node.get(part));
            node.put(part, copy);
            node = copy;
        }
        node.put(path.get(path.size() - 1), value);
    }

    /** api_keys entries may be plain strings ("the key") or {name, key}; plain ones are named api-key-N. */
    private static void normalizeApiKeys(Map<String, Object> settings) {
        if (!(settings.get("api_keys") instanceof List<?> keys)) {
            return;
        }
        List<Object> normalized = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            Object entry = keys.get(i);
            if (entry instanceof String key) {
                normalized.add(Map.of("name", "api-key-" + (i + 1), "key", key));
            } else {
                normalized.add(entry);
            }
        }
        settings.put("api_keys", normalized);
    }

    private static BrokerSettings bind(Map<String, Object> settings) {
        try {
            return MAPPER.convertValue(settings, BrokerSettings.class);
        } catch (IllegalArgumentException e) {
            if (e.getCause() instanceof JsonMappingException mapping) {
                throw new ConfigurationException(describe(mapping), e);
            }
            throw new ConfigurationException(ROOT + ": " + e.getMessage(), e);
        }
    }

    private static String describe(JsonMappingException e) {
        StringBuilder path = new StringBuilder(ROOT);
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                path.append('.').append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        String problem;
        if (e instanceof InvalidFormatException invalid) {
            problem = "'" + invalid.getValue() + "' is not a valid " + invalid.getTargetType().getSimpleName();
        } else if (e instanceof MismatchedInputException mismatched && mismatched.getTargetType() != null) {
            problem = "expected a value of type " + mismatched.getTargetType().getSimpleName();
        } else {
            problem = e.getOriginalMessage().lines().findFirst().orElse("invalid value");
        }
        return path + ": " + problem;
    }

    private static void validate(BrokerSettings s) {
        require(s.routingInterval() > 0, "routing_interval", "must be a number of seconds > 0, got " + s.routingInterval());
        require(s.cleanupInterval() > 0, "cleanup_interval", "must be a number of seconds > 0, got " + s.cleanupInterval());
        require(s.backlog().maxDepth() >= 0, "backlog.max_depth", "must be >= 0 (0: 10 x queue_size), got " + s.backlog().maxDepth());
        require(s.idleQueueTimeout() >= 0, "idle_queue_timeout", "must be a number of seconds >= 0 (0: never remove), got "
                + s.idleQueueTimeout());
        require(s.ackTimeout() > 0, "ack_timeout", "must be a number of seconds > 0, got " + s.ackTimeout());
        BrokerSettings.AlertThresholds t = s.alertThresholds();
        long longestAckCycle = (t.retryCount() + 1L) * (s.ackTimeout() + s.redelivery().maxDelayMs() / 1000 + 1);
        require(s.ledgerRetention() > longestAckCycle, "ledger_retention", "must be a number of seconds longer than the "
                + "longest acknowledgment cycle ((retry_count + 1) x (ack_timeout + redelivery.max_delay_ms)), "
                + longestAckCycle + " s, got " + s.ledgerRetention());
        require(t.queueSize() > 0, "alert_thresholds.queue_size", "must be > 0, got " + t.queueSize());
        require(t.deliveryLatency() > 0, "alert_thresholds.delivery_latency", "must be a number of ms > 0, got " + t.deliveryLatency());
        require(t.failureRate() >= 0 && t.failureRate() <= 1, "alert_thresholds.failure_rate",
                "must be between 0 and 1, got " + t.failureRate());
        require(t.retryCount() >= 0 && t.retryCount() <= 100, "alert_thresholds.retry_count",
                "must be between 0 and 100, got " + t.retryCount());
        require(s.dataDir() != null && !s.dataDir().isBlank(), "data_dir", "must name a directory");
        require(s.maxMessageSize() >= 1024 && s.maxMessageSize() <= 100L * 1024 * 1024, "max_message_size",
                "must be between 1024 and 104857600 bytes, got " + s.maxMessageSize());
        BrokerSettings.Databases db = s.databases();
        require(db != null, "databases", "must name the messages, queues and delivery databases");
        for (Map.Entry<String, String> entry : Map.of("messages", nz(db.messages()), "queues", nz(db.queues()),
                "delivery", nz(db.delivery())).entrySet()) {
            require(DATABASE.matcher(entry.getValue()).matches(), "databases." + entry.getKey(),
                    "must be a database name (letters, digits, _ . -) or a jdbc: URL, got '" + entry.getValue() + "'");
        }
        BrokerSettings.Redelivery r = s.redelivery();
        require(r.initialDelayMs() >= 0, "redelivery.initial_delay_ms", "must be >= 0, got " + r.initialDelayMs());
        require(r.backoffMultiplier() >= 1, "redelivery.backoff_multiplier", "must be >= 1, got " + r.backoffMultiplier());
        require(r.maxDelayMs() >= r.initialDelayMs(), "redelivery.max_delay_ms",
                "must be >= redelivery.initial_delay_ms, got " + r.maxDelayMs());
        List<String> keyNames = new ArrayList<>();
        for (int i = 0; i < s.apiKeys().size(); i++) {
            BrokerSettings.ApiKey key = s.apiKeys().get(i);
            require(key.key() != null && key.key().length() >= 8, "api_keys[" + i + "]", "a key must have at least 8 characters");
            require(key.name() != null && !key.name().isBlank(), "api_keys[" + i + "].name", "must not be empty");
            require(!keyNames.contains(key.name()), "api_keys[" + i + "].name", "duplicate name '" + key.name() + "'");
            keyNames.add(key.name());
            require(!key.scopes().isEmpty() && org.mas.broker.MasNames.SCOPES.containsAll(key.scopes()),
                    "api_keys[" + i + "].scopes", "must list one or more of " + org.mas.broker.MasNames.SCOPES + ", got "
                    + key.scopes());
            if (key.agents() != null) {
                for (String agent : key.agents()) {
                    List<String> problems = org.mas.broker.identity.AgentSpec.idProblems(agent);
                    require(problems.isEmpty(), "api_keys[" + i + "].agents", "must list agent ids, got '" + agent + "': "
                            + String.join("; ", problems));
                }
            }
        }
        List<String> agentIds = new ArrayList<>();
        for (int i = 0; i < s.agents().size(); i++) {
            BrokerSettings.Agent agent = s.agents().get(i);
            String key = "agents[" + i + "]";
            List<String> problems = AgentSpec.problems(agent.id(), agent.capabilities(), agent.roles(), agent.endpoint());
            if (!problems.isEmpty()) {
                throw new ConfigurationException(problems.stream().map(problem -> keyPath(List.of(key)) + "." + problem)
                        .collect(Collectors.joining("; ")));
            }
            require(!agentIds.contains(agent.id()), key + ".id", "duplicate agent id '" + agent.id() + "'");
            agentIds.add(agent.id());
            if (agent.secretHash() != null) {
                require(Secrets.BCRYPT_HASH.matcher(agent.secretHash()).matches(), key + ".secret_hash",
                        "must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; see README, 'Agent identities'), got '"
                        + agent.secretHash() + "'");
            }
        }
        BrokerSettings.Cluster cluster = s.cluster();
        require(cluster != null, "cluster", "must have enabled and instance_id");
        require(cluster.instanceId() == null || cluster.instanceId().matches("[A-Za-z0-9_.:-]{0,64}"), "cluster.instance_id",
                "must be up to 64 letters, digits, _ . : -, got '" + cluster.instanceId() + "'");
        if (cluster.enabled()) {
            require(!s.embeddedBroker(), "cluster.enabled", "needs broker_url: routers in a cluster share one broker (pair)");
            for (String url : List.of(s.databases().messages(), s.databases().queues(), s.databases().delivery())) {
                require(url.startsWith("jdbc:postgresql:"), "cluster.enabled",
                        "needs jdbc:postgresql: URLs of one server in databases.* (every router shares the ledger), got '"
                        + url + "'");
            }
        }
        BrokerSettings.Security security = s.security();
        require(security != null && security.tls() != null, "security", "must have allow_anonymous and tls");
        if (security.tlsEnabled()) {
            require(Files.isRegularFile(Path.of(security.tls().keystore())), "security.tls.keystore",
                    "no such file: " + Path.of(security.tls().keystore()).toAbsolutePath());
            checkKeystore(security.tls());
        }
        if (!s.embeddedBroker()) {
            try (ActiveMQConnectionFactory probe = new ActiveMQConnectionFactory(s.brokerUrl())) {
                probe.getServerLocator();
            } catch (Exception e) {
                throw new ConfigurationException(ROOT + ".broker_url: not a valid Artemis URL '" + s.brokerUrl() + "': "
                        + e.getMessage(), e);
            }
        }
    }

    private static String nz(String value) {
        return value == null ? "" : value;
    }

    /**
     * Opens the keystore as Artemis and the HTTP server will, so a wrong password or file type fails here, naming the
     * key, and not later inside either of them.
     */
    private static void checkKeystore(BrokerSettings.Tls tls) {
        Path file = Path.of(tls.keystore()).toAbsolutePath();
        char[] password = nz(tls.keystorePassword()).toCharArray();
        KeyStore store;
        try (InputStream in = Files.newInputStream(file)) {
            store = KeyStore.getInstance("PKCS12");
            store.load(in, password);
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigurationException(keyPath(List.of("security.tls.keystore")) + ": cannot open " + file
                    + " as a PKCS12 keystore with security.tls.keystore_password (wrong password, or not PKCS12?): "
                    + e.getMessage(), e);
        }
        boolean hasKey = false;
        try {
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias)) {
                    hasKey = hasKey || store.getKey(alias, password) != null;
                }
            }
        } catch (GeneralSecurityException e) {
            throw new ConfigurationException(keyPath(List.of("security.tls.keystore")) + ": the private key in " + file
                    + " does not open with security.tls.keystore_password: " + e.getMessage(), e);
        }
        require(hasKey, "security.tls.keystore", file + " holds no private key (make it with keytool -genkeypair)");
    }

    private static void require(boolean condition, String key, String problem) {
        if (!condition) {
            throw new ConfigurationException(keyPath(List.of(key)) + ": " + problem);
        }
    }

    private static String keyPath(List<String> path) {
        return ROOT + "." + String.join(".", path);
    }
}
