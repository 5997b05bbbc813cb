package org.mas.broker.queues;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.ha.ReplicationPrimaryPolicyConfiguration;
import org.apache.activemq.artemis.core.deployers.impl.FileConfigurationParser;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.core.server.JournalType;
import org.apache.activemq.artemis.core.server.cluster.impl.MessageLoadBalancingType;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import org.mas.broker.monitoring.BrokerMetrics;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Prometheus rules and the Grafana dashboard parse, and name only metrics the broker exports; compose.yaml, the
 * Dockerfile, prometheus.yml, docker/local-cluster and the broker pair's templates agree with each other.
 */
class DockerFilesTest {

    private static final Path DOCKER = Path.of("docker");
    private static final List<String> ROUTERS = List.of("router-1", "router-2");
    private static final String FAILOVER_OPTIONS = "?ha=true&reconnectAttempts=-1&initialConnectAttempts=-1&retryInterval=250"
            + "&retryIntervalMultiplier=2.0&maxRetryInterval=2000&callTimeout=15000&callFailoverTimeout=15000";

    @SuppressWarnings("unchecked")
    private static Map<String, Object> yaml(Path file) throws Exception {
        return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    private static Map<String, Object> services() throws Exception {
        return map(yaml(DOCKER.resolve("compose.yaml")).get("services"));
    }

    /** docker/artemis/cluster/render's output, as Artemis parses it. */
    private static String render(Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(DOCKER.resolve("artemis/cluster/render").toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().putAll(env);
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(process.waitFor()).as("render " + String.join(" ", args)).isZero();
        return out;
    }

    @Test
    void composeHasTheWholeTopologyAndEveryRouterTheFailoverAndDatabaseUrls() throws Exception {
        Map<String, Object> services = services();
        assertThat(services).containsKeys("zookeeper", "artemis-1", "artemis-2", "postgres", "router-1", "router-2",
                "prometheus", "grafana");
        for (String router : ROUTERS) {
            Map<String, Object> env = map(map(services.get(router)).get("environment"));
            assertThat(env.get("MESSAGE_BROKER_BROKER_URL")).as(router)
                    .isEqualTo("(tcp://artemis-1:61616,tcp://artemis-2:61616)" + FAILOVER_OPTIONS);
            for (String store : List.of("MESSAGES", "QUEUES", "DELIVERY")) {
                assertThat((String) env.get("MESSAGE_BROKER_DATABASES_" + store)).as(router + " " + store)
                        .startsWith("jdbc:postgresql://postgres:5432/");
            }
            assertThat(env).containsEntry("MESSAGE_BROKER_CLUSTER_ENABLED", "true")
                    .containsEntry("MESSAGE_BROKER_CLUSTER_INSTANCE_ID", router).containsEntry("MAS_BROKER_USER", "mas-router");
            assertThat(map(map(services.get(router)).get("build")).get("dockerfile")).isEqualTo("docker/Dockerfile");
        }
        for (String broker : List.of("artemis-1", "artemis-2")) {
            Map<String, Object> env = map(map(services.get(broker)).get("environment"));
            assertThat(env).containsEntry("NAME", broker).containsEntry("HOST", broker)
                    .containsEntry("PEER_HOST", broker.equals("artemis-1") ? "artemis-2" : "artemis-1")
                    .containsEntry("ZOOKEEPER", "zookeeper:2181").containsEntry("JOURNAL_DATASYNC", "true");
        }
        // what compose mounts is there
        for (Object service : services.values()) {
            Object volumes = map(service).get("volumes");
            if (volumes == null) {
                continue;
            }
            for (Object volume : (List<?>) volumes) {
                String source = volume.toString().split(":")[0];
                if (source.startsWith(".") && !source.startsWith("../target/")) {
                    assertThat(DOCKER.resolve(source)).as(volume.toString()).exists();
                }
            }
        }
    }

    @Test
    void theLocalClusterGivesItsRoutersTheSameFailoverUrl() throws Exception {
        String script = Files.readString(DOCKER.resolve("local-cluster"));
        assertThat(script).contains("BROKER_URL=\"(tcp://$HOST:$_a1,tcp://$HOST:$_a2)" + FAILOVER_OPTIONS + "\"")
                .contains("MESSAGE_BROKER_DATABASES_MESSAGES=\"$jdbc\"", "MESSAGE_BROKER_DATABASES_QUEUES=\"$jdbc\"",
                        "MESSAGE_BROKER_DATABASES_DELIVERY=\"$jdbc\"", "MESSAGE_BROKER_CLUSTER_ENABLED=true");
        assertThat(Files.isExecutable(DOCKER.resolve("local-cluster"))).isTrue();
    }

    @Test
    void prometheusScrapesEveryRouterThatExists() throws Exception {
        Map<String, Object> config = yaml(DOCKER.resolve("prometheus/prometheus.yml"));
        List<?> jobs = (List<?>) config.get("scrape_configs");
        Set<String> targets = new TreeSet<>();
        for (Object job : jobs) {
            assertThat(map(job).get("metrics_path")).isEqualTo("/observe/metrics");
            for (Object statics : (List<?>) map(job).get("static_configs")) {
                ((List<?>) map(statics).get("targets")).forEach(t -> targets.add(t.toString()));
            }
        }
        Map<String, Object> services = services();
        Set<String> routers = new TreeSet<>();
        services.keySet().stream().filter(s -> s.startsWith("router-")).forEach(s -> routers.add(s + ":8080"));
        assertThat(targets).isEqualTo(routers);
        assertThat(config.get("rule_files")).isEqualTo(List.of("/etc/prometheus/mas-alert-rules.yml"));
        assertThat(services.get("prometheus").toString()).contains("./prometheus/mas-alert-rules.yml:/etc/prometheus/mas-alert-rules.yml");
        assertThat(services.get("grafana").toString()).contains("./grafana/mas-dashboard.json");
    }

    @Test
    void theDockerfileCopiesWhatTheBuildMakes() throws Exception {
        String dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
        Matcher copy = Pattern.compile("(?m)^COPY\\s+(\\S+)\\s+\\S+$").matcher(dockerfile);
        List<String> sources = new ArrayList<>();
        while (copy.find()) {
            sources.add(copy.group(1));
        }
        assertThat(sources).containsExactlyInAnyOrder("target/lib/", "target/mas-message-broker.jar", "config/", "routes/");
        String pom = Files.readString(Path.of("pom.xml"));
        assertThat(pom).contains("<finalName>mas-message-broker</finalName>", "<outputDirectory>${project.build.directory}/lib</outputDirectory>");
        assertThat(Path.of("config")).isDirectory();
        assertThat(Path.of("routes")).isDirectory();
        assertThat(dockerfile).contains("USER mas", "HEALTHCHECK", "/observe/health");
    }

    @Test
    void theBrokerTemplatesRenderToAReplicatedPairWithTheMasSecurity() throws Exception {
        Map<String, String> common = Map.of("NAME", "artemis-1", "HOST", "127.0.0.1", "PORT", "61616", "PEER_HOST", "127.0.0.1",
                "PEER_PORT", "61617", "CLUSTER_PASSWORD", "secret", "JOURNAL_DATASYNC", "false");
        Map<String, String> file = new java.util.HashMap<>(common);
        file.put("LOCKS_FOLDER", "/tmp/locks");
        Map<String, String> zookeeper = new java.util.HashMap<>(common);
        zookeeper.put("ZOOKEEPER", "zookeeper:2181");
        Configuration fragment;
        try (var in = Files.newInputStream(DOCKER.resolve("artemis/broker-security.xml"))) {
            fragment = new FileConfigurationParser().parseMainConfig(in);
        }
        for (var lock : Map.of("file", Map.entry(file, "org.apache.activemq.artemis.lockmanager.file.FileBasedLockManager"),
                "zookeeper", Map.entry(zookeeper, "org.apache.activemq.artemis.lockmanager.zookeeper.CuratorDistributedLockManager")).entrySet()) {
            String xml = render(lock.getValue().getKey(), "broker", lock.getKey());
            assertThat(xml).doesNotContain("@");
            Configuration config = new FileConfigurationParser().parseMainConfig(
                    new java.io.ByteArrayInputStream(xml.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            assertThat(config.getHAPolicyConfiguration()).isInstanceOf(ReplicationPrimaryPolicyConfiguration.class);
            ReplicationPrimaryPolicyConfiguration ha = (ReplicationPrimaryPolicyConfiguration) config.getHAPolicyConfiguration();
            assertThat(ha.getDistributedManagerConfiguration().getClassName()).isEqualTo(lock.getValue().getValue());
            assertThat(ha.getCoordinationId()).isNotBlank();
            assertThat(config.isPersistenceEnabled()).isTrue();
            assertThat(config.getJournalType()).isEqualTo(JournalType.NIO);
            // a reload would drop the security settings the registry added (registered agents locked out of their queues)
            assertThat(config.getConfigurationFileRefreshPeriod()).isEqualTo(-1);
            assertThat(config.isJournalDatasync()).isFalse();
            assertThat(config.isPopulateValidatedUser()).isTrue();
            assertThat(config.getClusterConfigurations()).singleElement().satisfies(c -> {
                assertThat(c.getMessageLoadBalancingType()).isEqualTo(MessageLoadBalancingType.OFF);
                assertThat(c.getStaticConnectors()).containsExactly("peer");
            });
            assertThat(config.getConnectorConfigurations().get("peer").getParams()).containsEntry("port", "61617");
            assertThat(config.getAcceptorConfigurations()).singleElement()
                    .satisfies(a -> assertThat(a.getParams().get("protocols")).isEqualTo("CORE,AMQP,STOMP,MQTT,OPENWIRE"));
            assertThat(config.getBrokerPlugins()).anySatisfy(p -> assertThat(p).isInstanceOf(DurableIngressPlugin.class));
            // the fragment's rules for the shared addresses, and the anonymous role beside the router's wherever it is
            for (String match : List.of("#", "mas.inbound", "mas.acks", "mas.alerts")) {
                Set<String> expected = new TreeSet<>();
                fragment.getSecurityRoles().get(match).forEach(r -> expected.add(r.toString()));
                Set<String> actual = new TreeSet<>();
                config.getSecurityRoles().get(match).stream().filter(r -> !r.getName().equals(BrokerSecurity.ROLE_ANONYMOUS))
                        .forEach(r -> actual.add(r.toString()));
                assertThat(actual).as(match).isEqualTo(expected);
                Role router = config.getSecurityRoles().get(match).stream().filter(r -> r.getName().equals(BrokerSecurity.ROLE_ROUTER)).findFirst().orElseThrow();
                Role anonymous = config.getSecurityRoles().get(match).stream().filter(r -> r.getName().equals(BrokerSecurity.ROLE_ANONYMOUS)).findFirst().orElseThrow();
                assertThat(anonymous.toString().replace(BrokerSecurity.ROLE_ANONYMOUS, BrokerSecurity.ROLE_ROUTER)).as(match).isEqualTo(router.toString());
            }
        }
        for (String anonymous : List.of("true", "false")) {
            String bootstrap = render(Map.of("INSTANCE", "/var/lib/artemis-instance", "ALLOW_ANONYMOUS", anonymous,
                    "REGISTRY_JDBC_URL", "jdbc:postgresql://postgres:5432/mas?user=mas&ssl=false"), "bootstrap");
            org.w3c.dom.Document doc = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new java.io.ByteArrayInputStream(bootstrap.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            org.w3c.dom.Element manager = (org.w3c.dom.Element) doc.getElementsByTagName("security-manager").item(0);
            assertThat(Class.forName(manager.getAttribute("class-name"))).isEqualTo(RegistrySecurityManager.class);
            Map<String, String> properties = new java.util.HashMap<>();
            org.w3c.dom.NodeList list = manager.getElementsByTagName("property");
            for (int i = 0; i < list.getLength(); i++) {
                org.w3c.dom.Element property = (org.w3c.dom.Element) list.item(i);
                properties.put(property.getAttribute("key"), property.getAttribute("value"));
            }
            assertThat(properties).containsEntry("jdbc-url", "jdbc:postgresql://postgres:5432/mas?user=mas&ssl=false")
                    .containsEntry("allow-anonymous", anonymous).containsEntry("router-password-env", "MAS_ROUTER_PASSWORD")
                    .containsEntry("jdbc-password-env", "MAS_REGISTRY_DB_PASSWORD");
            assertThat(((org.w3c.dom.Element) doc.getElementsByTagName("server").item(0)).getAttribute("configuration"))
                    .isEqualTo("file:/var/lib/artemis-instance/etc//broker.xml");
            assertThat(doc.getElementsByTagName("jaas-security").getLength()).isZero();
        }
    }

    private static final Pattern METRIC = Pattern.compile("\\bmas_[a-z_]+");

    private static Set<String> metricsIn(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }

    @Test
    void alertRulesParseAndNameExportedMetrics() throws Exception {
        String text = Files.readString(Path.of("docker/prometheus/mas-alert-rules.yml"));
        @SuppressWarnings("unchecked")
        Map<String, Object> rules = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(text);
        assertThat(rules).containsKey("groups");
        assertThat(text).contains("MasQueueBacklog", "MasDeliveryLatencyHigh", "MasFailureRateHigh", "MasRetriesExhausted");
        assertThat(metricsIn(text)).isNotEmpty().isSubsetOf(BrokerMetrics.EXPORTED);
    }

    @Test
    void dashboardParsesAndNamesExportedMetrics() throws Exception {
        String text = Files.readString(Path.of("docker/grafana/mas-dashboard.json"));
        JsonNode dashboard = new ObjectMapper().readTree(text);
        assertThat(dashboard.get("panels")).isNotEmpty();
        Set<String> named = metricsIn(text);
        assertThat(named).isSubsetOf(BrokerMetrics.EXPORTED)
                .contains("mas_queue_depth", "mas_deliveries_total", "mas_delivery_latency_seconds_bucket");
    }
}
