package org.mas.broker.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.TestTls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SettingsLoaderTest {

    /** The module section exactly as the contract documents it: no extension keys. */
    private static final String CONTRACT_SECTION = """
            message_broker:
              id: "message-broker-1"
              name: "MessageBroker"
              capabilities: ["message_management", "queue_management", "delivery"]
              relationships: ["all_agents"]
              databases: {messages: "messages_db", queues: "queues_db", delivery: "delivery_db"}
              routing_interval: 60        # seconds
              cleanup_interval: 3600      # seconds
              alert_thresholds:
                queue_size: 1000          # messages waiting in one queue
                delivery_latency: 1000    # ms, accepted -> queued (p99), and -> acked where acks are required
                failure_rate: 0.01        # failed / attempted deliveries over the window
                retry_count: 3            # redeliveries before the dead-letter queue
            """;

    @TempDir
    Path dir;

    private Path yaml(String text) throws IOException {
        Path file = Files.createTempFile(dir, "message-broker-", ".yaml");
        Files.writeString(file, text);
        return file;
    }

    private Path section(String body) throws IOException {
        return yaml("message_broker:\n" + body.indent(2));
    }

    private void assertRejectedFile(String sectionBody, String... messageParts) throws IOException {
        Path file = section(sectionBody);
        assertThatThrownBy(() -> SettingsLoader.load(file, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .message().contains(messageParts);
    }

    private void assertRejectedEnv(Map<String, String> env, String... messageParts) {
        assertThatThrownBy(() -> SettingsLoader.load(null, env))
                .isInstanceOf(ConfigurationException.class)
                .message().contains(messageParts);
    }

    // --- valid files -----------------------------------------------------------------------------------------------

    @Test
    void shippedConfigFileLoadsWithItsDocumentedValues() {
        BrokerSettings s = SettingsLoader.load(Path.of("config/message-broker.yaml"), Map.of());

        assertThat(s.id()).isEqualTo("message-broker-1");
        assertThat(s.name()).isEqualTo("MessageBroker");
        assertThat(s.capabilities()).containsExactly("message_management", "queue_management", "delivery");
        assertThat(s.relationships()).containsExactly("all_agents");
        assertThat(s.databases()).isEqualTo(new BrokerSettings.Databases("messages_db", "queues_db", "delivery_db"));
        assertThat(s.routingInterval()).isEqualTo(60);
        assertThat(s.cleanupInterval()).isEqualTo(3600);
        assertThat(s.alertThresholds()).isEqualTo(new BrokerSettings.AlertThresholds(1000, 1000, 0.01, 3));
        assertThat(s.apiKeys()).singleElement().satisfies(key -> {
            assertThat(key.name()).isEqualTo("development");
            assertThat(key.key()).isEqualTo(BrokerSettings.DEVELOPMENT_API_KEY);
        });
        assertThat(s.embeddedBroker()).isTrue();
    }

    @Test
    void contractSectionIsAcceptedAsIsAndExtensionKeysTakeTheirDefaults() throws IOException {
        BrokerSettings s = SettingsLoader.load(yaml(CONTRACT_SECTION), Map.of());

        assertThat(s.alertThresholds()).isEqualTo(new BrokerSettings.AlertThresholds(1000, 1000, 0.01, 3));
        assertThat(s.databases().messages()).isEqualTo("messages_db");
        assertThat(s.dataDir()).isEqualTo("data");
        assertThat(s.maxMessageSize()).isEqualTo(1_048_576L);
        assertThat(s.brokerUrl()).isEmpty();
        assertThat(s.embeddedBroker()).isTrue();
        assertThat(s.agents()).isEmpty();
        assertThat(s.apiKeys()).isEmpty();
        assertThat(s.redelivery()).isEqualTo(new BrokerSettings.Redelivery(1000, 2.0, 60000));
    }

    @Test
    void noFileGivesTheBuiltInDefaults() {
        BrokerSettings s = SettingsLoader.load(null, Map.of());

        assertThat(s.id()).isEqualTo("message-broker-1");
        assertThat(s.alertThresholds().retryCount()).isEqualTo(3);
        assertThat(s.dataDir()).isEqualTo("data");
        assertThat(s.maxMessageSize()).isEqualTo(1_048_576L);
        assertThat(s.apiKeys()).isEmpty();
        assertThat(s.agents()).isEmpty();
        assertThat(s.embeddedBroker()).isTrue();
    }

    @Test
    void partialNestedSectionKeepsTheOtherDefaults() throws IOException {
        BrokerSettings s = SettingsLoader.load(section("alert_thresholds: {retry_count: 7}"), Map.of());

        assertThat(s.alertThresholds()).isEqualTo(new BrokerSettings.AlertThresholds(1000, 1000, 0.01, 7));
    }

    @Test
    void agentsFromTheFileMayBePlainIdsOrIdWithEndpoint() throws IOException {
        BrokerSettings s = SettingsLoader.load(
                section("agents: [\"planner\", {id: \"crm\", endpoint: \"http://127.0.0.1:9000/inbox\"}]"), Map.of());

        assertThat(s.agents()).containsExactly(new BrokerSettings.Agent("planner", null),
                new BrokerSettings.Agent("crm", "http://127.0.0.1:9000/inbox"));
    }

    @Test
    void jdbcUrlIsAcceptedAsADatabase() throws IOException {
        BrokerSettings s = SettingsLoader.load(section("databases: {messages: \"jdbc:h2:mem:messages\"}"), Map.of());

        assertThat(s.databases().messages()).isEqualTo("jdbc:h2:mem:messages");
        assertThat(s.databases().queues()).isEqualTo("queues_db");
    }

    // --- environment overrides -------------------------------------------------------------------------------------

    @Test
    void dataDirFromEnvironment() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_DATA_DIR", "/var/lib/mas"));

        assertThat(s.dataDir()).isEqualTo("/var/lib/mas");
    }

    @Test
    void commaSeparatedApiKeysAreNamedApiKeyN() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_API_KEYS", "k1-xxxxxxxx,k2-xxxxxxxx"));

        assertThat(s.apiKeys()).containsExactly(new BrokerSettings.ApiKey("api-key-1", "k1-xxxxxxxx"),
                new BrokerSettings.ApiKey("api-key-2", "k2-xxxxxxxx"));
    }

    @Test
    void nestedKeyFromEnvironment() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "5"));

        assertThat(s.alertThresholds().retryCount()).isEqualTo(5);
    }

    @Test
    void commaSeparatedAgentIds() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_AGENTS", "a,b"));

        assertThat(s.agents()).containsExactly(new BrokerSettings.Agent("a", null), new BrokerSettings.Agent("b", null));
    }

    @Test
    void agentsAsAJsonListWithAnEndpoint() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_AGENTS",
                "[{\"id\":\"crm\",\"endpoint\":\"http://127.0.0.1:9000/inbox\"}, \"planner\"]"));

        assertThat(s.agents()).containsExactly(new BrokerSettings.Agent("crm", "http://127.0.0.1:9000/inbox"),
                new BrokerSettings.Agent("planner", null));
    }

    @Test
    void brokerUrlSelectsAnExternalBroker() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:61617"));

        assertThat(s.brokerUrl()).isEqualTo("tcp://127.0.0.1:61617");
        assertThat(s.embeddedBroker()).isFalse();
    }

    @Test
    void environmentWinsOverTheFile() throws IOException {
        Path file = section("""
                data_dir: "from-file"
                alert_thresholds: {retry_count: 4}
                agents: ["file-agent"]
                """);

        BrokerSettings s = SettingsLoader.load(file, Map.of(
                "MESSAGE_BROKER_DATA_DIR", "from-env",
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "9",
                "MESSAGE_BROKER_AGENTS", "env-agent"));

        assertThat(s.dataDir()).isEqualTo("from-env");
        assertThat(s.alertThresholds().retryCount()).isEqualTo(9);
        assertThat(s.agents()).containsExactly(new BrokerSettings.Agent("env-agent", null));
    }

    @Test
    void unrelatedVariablesAndTheConfigFileVariableAreIgnored() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("PATH", "/usr/bin", "HOME", "/root",
                SettingsLoader.ENV_CONFIG_FILE, "/does/not/matter.yaml"));

        assertThat(s.dataDir()).isEqualTo("data");
    }

    // --- resolveFile -----------------------------------------------------------------------------------------------

    @Test
    void explicitPathWinsOverTheEnvironment() throws IOException {
        Path cli = yaml(CONTRACT_SECTION);
        Path fromEnv = yaml(CONTRACT_SECTION);

        Path resolved = SettingsLoader.resolveFile(cli.toString(), Map.of("MESSAGE_BROKER_CONFIG", fromEnv.toString()));

        assertThat(resolved).isEqualTo(cli);
    }

    @Test
    void environmentVariableIsUsedWithoutAnExplicitPath() throws IOException {
        Path fromEnv = yaml(CONTRACT_SECTION);

        Path resolved = SettingsLoader.resolveFile(null, Map.of("MESSAGE_BROKER_CONFIG", fromEnv.toString()));

        assertThat(resolved).isEqualTo(fromEnv);
    }

    @Test
    void withNothingNamedTheShippedFileIsUsed() {
        // tests run from the project root, where config/message-broker.yaml exists
        assertThat(SettingsLoader.resolveFile(null, Map.of())).isEqualTo(SettingsLoader.DEFAULT_CONFIG_FILE);
    }

    @Test
    void missingExplicitFileFailsNamingThePath() {
        Path missing = dir.resolve("nope.yaml");

        assertThatThrownBy(() -> SettingsLoader.resolveFile(missing.toString(), Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(missing.toAbsolutePath().toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void missingFileFromTheEnvironmentFailsNamingThePath() {
        Path missing = dir.resolve("absent.yaml");

        assertThatThrownBy(() -> SettingsLoader.resolveFile(null, Map.of("MESSAGE_BROKER_CONFIG", missing.toString())))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(missing.toAbsolutePath().toString());
    }

    // --- bad values: each fails naming the key ---------------------------------------------------------------------

    @Test
    void nonNumericRetryCountInTheFile() throws IOException {
        assertRejectedFile("alert_thresholds: {retry_count: \"abc\"}",
                "message_broker.alert_thresholds.retry_count", "abc");
    }

    @Test
    void nonNumericRetryCountFromTheEnvironment() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "abc"),
                "message_broker.alert_thresholds.retry_count", "abc");
    }

    @Test
    void retryCountOutOfRange() throws IOException {
        assertRejectedFile("alert_thresholds: {retry_count: 101}", "message_broker.alert_thresholds.retry_count");
    }

    @Test
    void failureRateAboveOne() throws IOException {
        assertRejectedFile("alert_thresholds: {failure_rate: 2}",
                "message_broker.alert_thresholds.failure_rate", "between 0 and 1");
    }

    @Test
    void zeroQueueSize() throws IOException {
        assertRejectedFile("alert_thresholds: {queue_size: 0}", "message_broker.alert_thresholds.queue_size");
    }

    @Test
    void zeroRoutingInterval() throws IOException {
        assertRejectedFile("routing_interval: 0", "message_broker.routing_interval");
    }

    @Test
    void unknownKeyUnderTheSection() throws IOException {
        assertRejectedFile("retry_cuont: 3", "message_broker.retry_cuont", "unknown key");
    }

    @Test
    void unknownNestedKey() throws IOException {
        assertRejectedFile("alert_thresholds: {latency: 3}", "message_broker.alert_thresholds.latency", "unknown key");
    }

    @Test
    void scalarWhereAMappingIsExpected() throws IOException {
        assertRejectedFile("alert_thresholds: 5", "message_broker.alert_thresholds", "expected a mapping");
    }

    @Test
    void unknownEnvironmentVariable() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_RETRY_COUNT", "5"), "MESSAGE_BROKER_RETRY_COUNT", "matches no setting");
    }

    @Test
    void agentIdWithASpace() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "[\"bad agent\"]"), "message_broker.agents[0].id", "bad agent");
    }

    @Test
    void duplicateAgentId() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "a,b,a"), "message_broker.agents[2].id", "duplicate agent id 'a'");
    }

    @Test
    void broadcastIsReservedAsAnAgentId() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "broadcast"), "message_broker.agents[0].id", "reserved");
    }

    @Test
    void anAgentIdMayNotNameACapability() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "capability:summarize"), "message_broker.agents[0].id",
                "reserved: ids starting with 'capability:' name capabilities");
    }

    @Test
    void theRoutersOwnUserIsReservedAsAnAgentId() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "a,b,mas-router"), "message_broker.agents[2].id: 'mas-router' is reserved");
    }

    @Test
    void aConfiguredAgentOffersAtMost100Capabilities() throws IOException {
        String capabilities = java.util.stream.IntStream.range(0, 101).mapToObj(n -> "\"c" + n + "\"")
                .collect(java.util.stream.Collectors.joining(", "));
        assertRejectedFile("agents: [a, b, {id: \"many\", capabilities: [" + capabilities + "]}]",
                "message_broker.agents[2].capabilities: at most 100, got 101");
    }

    @Test
    void aConfiguredAgentsEndpointFitsTheRegistry() throws IOException {
        String endpoint = "http://example.org/" + "x".repeat(3000 - 19);
        assertRejectedFile("agents: [a, b, {id: \"far\", endpoint: \"" + endpoint + "\"}]",
                "message_broker.agents[2].endpoint: an http:// or https:// URL with a host, at most 2048 characters");
    }

    @Test
    void aConfiguredAgentListsACapabilityOnce() throws IOException {
        assertRejectedFile("agents: [{id: \"a\", capabilities: [x, y, x]}]", "message_broker.agents[0].capabilities: 'x' is listed twice");
    }

    @Test
    void aConfiguredAgentAtTheLimitsLoads() throws IOException {
        String capabilities = java.util.stream.IntStream.range(0, 100).mapToObj(n -> "\"c" + n + "\"")
                .collect(java.util.stream.Collectors.joining(", "));
        String endpoint = "https://example.org/" + "x".repeat(2048 - 20);
        BrokerSettings s = SettingsLoader.load(section("agents: [{id: \"big\", endpoint: \"" + endpoint
                + "\", capabilities: [" + capabilities + "], roles: [monitor]}]"), Map.of());
        assertThat(s.agents().get(0).capabilities()).hasSize(100);
        assertThat(s.agents().get(0).endpoint()).hasSize(2048);
    }

    @Test
    void everyProblemOfAConfiguredAgentIsNamed() throws IOException {
        assertRejectedFile("agents: [{id: \"broadcast\", roles: [admin], endpoint: \"ftp://x\"}]",
                "message_broker.agents[0].id: 'broadcast' is reserved", "message_broker.agents[0].roles: 'admin' is not a role",
                "message_broker.agents[0].endpoint:");
    }

    @Test
    void agentEndpointMustBeHttp() throws IOException {
        assertRejectedFile("agents: [{id: \"crm\", endpoint: \"ftp://x\"}]", "message_broker.agents[0].endpoint", "ftp://x");
    }

    @Test
    void agentWithoutAnId() throws IOException {
        assertRejectedFile("agents: [{endpoint: \"http://x\"}]", "message_broker.agents[0].id");
    }

    @Test
    void unknownFieldOnAnAgent() throws IOException {
        assertRejectedFile("agents: [{id: \"a\", url: \"http://x\"}]", "message_broker.agents[0].url");
    }

    @Test
    void agentsEnvironmentVariableThatIsBrokenJson() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_AGENTS", "[{"), "message_broker.agents", "MESSAGE_BROKER_AGENTS",
                "not a valid JSON list");
    }

    @Test
    void apiKeyShorterThanEightCharacters() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_API_KEYS", "k1-xxxxxxxx,short"), "message_broker.api_keys[1]",
                "at least 8 characters");
    }

    @Test
    void duplicateApiKeyName() throws IOException {
        assertRejectedFile("""
                api_keys:
                  - {name: "ops", key: "key-one-xxxx"}
                  - {name: "ops", key: "key-two-xxxx"}
                """, "message_broker.api_keys[1].name", "duplicate name 'ops'");
    }

    @Test
    void apiKeysWithScopesAndAgents() throws IOException {
        BrokerSettings s = SettingsLoader.load(section("""
                api_keys:
                  - "plain-key-xxxx"
                  - {name: "ops", key: "ops-key-xxxx"}
                  - {name: "reader", key: "reader-key-xxxx", scopes: [read]}
                  - {name: "planner-svc", key: "planner-key-xxxx", scopes: [send, read], agents: [planner, "planner:2"]}
                """), Map.of());

        assertThat(s.apiKeys().get(0).scopes()).containsExactlyElementsOf(org.mas.broker.MasNames.SCOPES);
        assertThat(s.apiKeys().get(0).agents()).isNull();
        assertThat(s.apiKeys().get(1).scopes()).containsExactly("send", "read", "operate", "admin");
        assertThat(s.apiKeys().get(2).scopes()).containsExactly("read");
        assertThat(s.apiKeys().get(2).hasScope("send")).isFalse();
        assertThat(s.apiKeys().get(3).scopes()).containsExactly("send", "read");
        assertThat(s.apiKeys().get(3).agents()).containsExactly("planner", "planner:2");
    }

    @Test
    void apiKeysWithScopesFromTheEnvironmentAsJson() {
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_API_KEYS",
                "[\"plain-key-xxxx\", {\"name\": \"ops\", \"key\": \"ops-key-xxxx\", \"scopes\": [\"operate\", \"read\"], "
                        + "\"agents\": [\"a\"]}]"));

        assertThat(s.apiKeys()).hasSize(2);
        assertThat(s.apiKeys().get(0).name()).isEqualTo("api-key-1");
        assertThat(s.apiKeys().get(0).scopes()).containsExactlyElementsOf(org.mas.broker.MasNames.SCOPES);
        assertThat(s.apiKeys().get(1).scopes()).containsExactly("operate", "read");
        assertThat(s.apiKeys().get(1).agents()).containsExactly("a");
    }

    @Test
    void apiKeyWithAnUnknownScope() throws IOException {
        assertRejectedFile("""
                api_keys:
                  - {name: "ops", key: "ops-key-xxxx", scopes: [read, write]}
                """, "message_broker.api_keys[0].scopes", "send, read, operate, admin", "write");
    }

    @Test
    void apiKeyWithNoScopes() throws IOException {
        assertRejectedFile("""
                api_keys:
                  - {name: "ops", key: "ops-key-xxxx", scopes: []}
                """, "message_broker.api_keys[0].scopes", "one or more");
    }

    @Test
    void apiKeyBoundToAnInvalidAgentId() throws IOException {
        assertRejectedFile("""
                api_keys:
                  - {name: "ops", key: "ops-key-xxxx"}
                  - {name: "svc", key: "svc-key-xxxx", agents: ["good", "bad id"]}
                """, "message_broker.api_keys[1].agents", "'bad id'");
    }

    @Test
    void apiKeyBoundToAReservedId() throws IOException {
        assertRejectedFile("""
                api_keys:
                  - {name: "svc", key: "svc-key-xxxx", agents: ["broadcast"]}
                """, "message_broker.api_keys[0].agents", "'broadcast'");
    }

    @Test
    void databaseNameWithInvalidCharacters() throws IOException {
        assertRejectedFile("databases: {queues: \"bad name!\"}", "message_broker.databases.queues", "bad name!");
    }

    @Test
    void maxMessageSizeBelowTheMinimum() throws IOException {
        assertRejectedFile("max_message_size: 10", "message_broker.max_message_size", "got 10");
    }

    @Test
    void redeliveryMaxDelayBelowInitialDelay() throws IOException {
        assertRejectedFile("redelivery: {initial_delay_ms: 5000, max_delay_ms: 1000}", "message_broker.redelivery.max_delay_ms");
    }

    @Test
    void fileWithoutTheMessageBrokerSection() throws IOException {
        Path file = yaml("other_module:\n  id: x\n");

        assertThatThrownBy(() -> SettingsLoader.load(file, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("message_broker");
    }

    @Test
    void emptyFile() throws IOException {
        Path file = yaml("");

        assertThatThrownBy(() -> SettingsLoader.load(file, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("message_broker");
    }

    @Test
    void invalidYamlSyntax() throws IOException {
        Path file = yaml("message_broker:\n  data_dir: [unclosed\n");

        assertThatThrownBy(() -> SettingsLoader.load(file, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("not valid YAML");
    }

    @Test
    void duplicateYamlKey() throws IOException {
        Path file = section("data_dir: a\ndata_dir: b");

        assertThatThrownBy(() -> SettingsLoader.load(file, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("not valid YAML")
                .hasMessageContaining("data_dir");
    }

    @Test
    void brokerUrlThatIsNotAnArtemisUrl() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_BROKER_URL", "not a url ::"), "message_broker.broker_url",
                "not a valid Artemis URL");
    }

    @Test
    void brokerUrlWithAnUnknownScheme() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_BROKER_URL", "http://artemis:61616"), "message_broker.broker_url");
    }

    @Test
    void aClusterNeedsAnExternalBrokerAndSharedDatabases() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_CLUSTER_ENABLED", "true"), "message_broker.cluster.enabled", "broker_url");
        assertRejectedEnv(Map.of("MESSAGE_BROKER_CLUSTER_ENABLED", "true", "MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:61616"),
                "message_broker.cluster.enabled", "jdbc:postgresql: URLs", "messages_db");
        assertRejectedEnv(Map.of("MESSAGE_BROKER_CLUSTER_INSTANCE_ID", "router 1"), "message_broker.cluster.instance_id");
        String pg = "jdbc:postgresql://127.0.0.1:5432/mas";
        BrokerSettings s = SettingsLoader.load(null, Map.of("MESSAGE_BROKER_CLUSTER_ENABLED", "true",
                "MESSAGE_BROKER_CLUSTER_INSTANCE_ID", "router-1", "MESSAGE_BROKER_BROKER_URL",
                "(tcp://127.0.0.1:61616,tcp://127.0.0.1:61617)?ha=true&reconnectAttempts=-1",
                "MESSAGE_BROKER_DATABASES_MESSAGES", pg, "MESSAGE_BROKER_DATABASES_QUEUES", pg,
                "MESSAGE_BROKER_DATABASES_DELIVERY", pg));
        assertThat(s.clustered()).isTrue();
        assertThat(s.instanceId()).isEqualTo("router-1");
        assertThat(SettingsLoader.load(null, Map.of()).instanceId()).endsWith("-" + ProcessHandle.current().pid());
    }

    @Test
    void aDecimalWhereAWholeNumberIsExpectedIsRefusedNotTruncated() throws IOException {
        assertRejectedFile("alert_thresholds:\n  retry_count: 3.7\n", "message_broker.alert_thresholds.retry_count");
    }

    @Test
    void aBlankConfigArgumentFallsBackToTheEnvironment() throws IOException {
        Path file = section("name: \"from-env\"\n");
        assertThat(SettingsLoader.resolveFile("  ", Map.of("MESSAGE_BROKER_CONFIG", file.toString()))).isEqualTo(file);
    }

    // --- security.tls: the keystore must open with its password, as Artemis and the HTTP server will open it -------

    /** keytool takes a second or more per call: one keystore for all these tests. */
    private static final TestTls TLS = TestTls.generate();

    @Test
    void aKeystoreThatOpensWithItsPasswordTurnsTlsOn() {
        BrokerSettings settings = SettingsLoader.load(null, TLS.env());
        assertThat(settings.security().tlsEnabled()).isTrue();
        assertThat(settings.security().tls().keystore()).isEqualTo(TLS.keystore().toString());
        assertThat(settings.security().tls().toString()).doesNotContain(TLS.password());
    }

    @Test
    void aKeystoreWithAnotherPasswordIsRefused() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", TLS.keystore().toString(),
                "MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", "wrong-password"),
                "message_broker.security.tls.keystore: cannot open " + TLS.keystore(), "keystore_password",
                "password was incorrect");
    }

    @Test
    void aFileThatIsNotPkcs12IsRefused() {
        // the exported PEM certificate: what an operator might name by mistake
        assertRejectedEnv(Map.of("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", TLS.certificate().toString(),
                "MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", TLS.password()),
                "message_broker.security.tls.keystore: cannot open " + TLS.certificate(), "not PKCS12");
    }

    @Test
    void aTruststoreWithoutAPrivateKeyIsRefused() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", TLS.truststore().toString(),
                "MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", TLS.password()),
                "message_broker.security.tls.keystore", "holds no private key");
    }

    @Test
    void aMissingKeystoreIsRefused() {
        assertRejectedEnv(Map.of("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", dir.resolve("nope.p12").toString()),
                "message_broker.security.tls.keystore: no such file");
    }
}
