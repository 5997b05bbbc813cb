package org.mas.broker.queues;

import java.io.InputStream;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.impl.SecurityConfiguration;
import org.apache.activemq.artemis.core.deployers.impl.FileConfigurationParser;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.activemq.artemis.spi.core.security.ActiveMQJAASSecurityManager;
import org.apache.activemq.artemis.spi.core.security.jaas.InVMLoginModule;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * docker/artemis/broker-security.xml, artemis-users.properties and artemis-roles.properties as an operator uses
 * them: a broker of its own configured from those files (its security settings, populate-validated-user and
 * DurableIngressPlugin parsed by Artemis from the fragment; its users and roles read from the two files), and the
 * router running against it with the mas-router user. Agents then have the same rights as on the embedded broker.
 */
class ExternalBrokerSecurityTest {

    private static final Path DOCKER = Path.of("docker", "artemis");

    @TempDir
    static Path dir;
    private static EmbeddedActiveMQ external;
    private static RunningBroker router;
    private static int port;
    private static Properties users;

    @BeforeAll
    static void start() throws Exception {
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
                .addAcceptorConfiguration("tcp", "tcp://127.0.0.1:" + port);
        users = properties("artemis-users.properties");
        Properties roles = properties("artemis-roles.properties");
        SecurityConfiguration logins = new SecurityConfiguration();
        users.stringPropertyNames().forEach(user -> logins.addUser(user, users.getProperty(user)));
        roles.stringPropertyNames().forEach(role -> List.of(roles.getProperty(role).split("\\s*,\\s*"))
                .forEach(user -> logins.addRole(user, role)));
        external = new EmbeddedActiveMQ();
        external.setConfiguration(config);
        external.setSecurityManager(new ActiveMQJAASSecurityManager(InVMLoginModule.class.getName(), logins));
        external.start();
        // the router knows the same agents (here from configuration): it creates their queues on that broker
        router = RunningBroker.start(dir.resolve("router"), Map.of("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + port,
                        "MESSAGE_BROKER_AGENTS", "[{\"id\":\"planner\"},{\"id\":\"worker-1\",\"capabilities\":[\"summarize\"]}]"),
                Map.of("mas.broker.user", "mas-router", "mas.broker.password", users.getProperty("mas-router")));
    }

    @AfterAll
    static void stop() throws Exception {
        if (router != null) {
            router.close();
        }
        if (external != null) {
            external.stop();
        }
    }

    private static Properties properties(String file) throws Exception {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(DOCKER.resolve(file))) {
            properties.load(reader);
        }
        return properties;
    }

    private static Connection connect(String user) throws JMSException {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port);
        Connection connection = user == null ? factory.createConnection() : factory.createConnection(user, users.getProperty(user));
        connection.start();
        return connection;
    }

    private static void send(Connection connection, String queue, String text) throws JMSException {
        try (Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE)) {
            session.createProducer(session.createQueue(queue)).send(session.createTextMessage(text));
        }
    }

    private static String envelope(String id, String from, String to) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"" + from + "\",\"to_agent\":\"" + to
                + "\",\"message_type\":\"request\",\"payload\":{}}";
    }

    @Test
    void theFragmentsRulesHoldOnAStandaloneBroker() throws Exception {
        try (Connection planner = connect("planner"); Connection worker = connect("worker-1")) {
            // an agent sends as itself; the router routes it; its recipient reads it from its own queue
            send(planner, "mas.inbound", envelope("ext-ok", "planner", "worker-1"));
            try (Session session = worker.createSession(false, Session.AUTO_ACKNOWLEDGE);
                 MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent.worker-1"))) {
                Message received = consumer.receive(Duration.ofSeconds(30).toMillis());
                assertThat(received).isNotNull();
                assertThat(received.getStringProperty("mas_id")).isEqualTo("ext-ok");
            }
            // sending as another agent: the broker stamped the real sender, the router sets the message aside
            send(planner, "mas.inbound", envelope("ext-forged", "worker-1", "planner"));
            Message invalid;
            try (Connection routerUser = connect("mas-router");
                 Session session = routerUser.createSession(false, Session.AUTO_ACKNOWLEDGE);
                 MessageConsumer consumer = session.createConsumer(session.createQueue("mas.invalid"))) {
                invalid = consumer.receive(Duration.ofSeconds(30).toMillis());
            }
            assertThat(invalid).isNotNull();
            assertThat(invalid.getStringProperty("mas_error")).contains("worker-1", "planner");
            assertThat(((TextMessage) invalid).getText()).contains("ext-forged");

            // no reading another agent's queue, no sending to it, no queue of one's own making, no management
            try (Session session = worker.createSession(false, Session.AUTO_ACKNOWLEDGE)) {
                assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.agent.planner")))
                        .isInstanceOf(JMSSecurityException.class);
                assertThatThrownBy(() -> session.createProducer(session.createQueue("mas.agent.planner"))
                        .send(session.createTextMessage("{}"))).isInstanceOf(JMSSecurityException.class);
                assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.agent.worker-2")))
                        .isInstanceOf(JMSSecurityException.class);
                assertThatThrownBy(() -> session.createProducer(session.createQueue("activemq.management"))
                        .send(session.createTextMessage("{}"))).isInstanceOf(JMSSecurityException.class);
            }
        }
        // worker-1 offers summarize: it reads the capability queue, which the router made on that broker
        try (Connection worker = connect("worker-1"); Session session = worker.createSession(false, Session.AUTO_ACKNOWLEDGE)) {
            session.createConsumer(session.createQueue("mas.capability.summarize")).close();
        }
        try (Connection planner = connect("planner"); Session session = planner.createSession(false, Session.AUTO_ACKNOWLEDGE)) {
            assertThatThrownBy(() -> session.createConsumer(session.createQueue("mas.capability.summarize")))
                    .isInstanceOf(JMSSecurityException.class);
        }
        // without credentials: refused
        assertThatThrownBy(() -> connect(null).close()).isInstanceOf(JMSSecurityException.class);
        // nothing was dead-lettered (on that broker mas.dlq is made by the first dead letter)
        var dlq = router.get("/api/queues/mas.dlq", RunningBroker.API_KEY);
        assertThat(dlq.statusCode() == 404 || dlq.body().contains("\"depth\":0")).as(dlq.body()).isTrue();
    }
}
