package org.mas.broker.support;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.CamelContext;
import org.apache.camel.main.Main;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerLauncher;
import org.mas.broker.queues.EmbeddedArtemis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The broker as its users see it, started in-process exactly as {@code java -jar} starts it (same launcher, same
 * config/ and routes/), on free loopback ports and a temporary data directory. Tests talk to it over TCP (JMS, STOMP)
 * and HTTP like any agent or external system would.
 */
public final class RunningBroker implements AutoCloseable, BeforeAllCallback, AfterAllCallback {

    public static final String API_KEY = "test-api-key-0123456789";

    static {
        // generous on a busy 2-core machine: conditions usually hold within milliseconds
        org.awaitility.Awaitility.setDefaultTimeout(Duration.ofSeconds(30));
        org.awaitility.Awaitility.setDefaultPollInterval(Duration.ofMillis(50));
    }

    private Main main;
    private int httpPort;
    private int brokerPort;
    private Path dataDir;
    private Map<String, String> env;
    private Map<String, String> camelProperties;
    private HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** With security.tls set: https, and TLS to the acceptor, trusting the broker's own keystore. */
    private String scheme = "http";
    private String artemisTls = "";
    private ActiveMQConnectionFactory agentConnectionFactory;
    private Connection agentConnection;
    private ActiveMQServer externalServer;

    private RunningBroker(Map<String, String> env, Map<String, String> camelProperties) {
        this.env = env;
        this.camelProperties = camelProperties;
    }

    /**
     * One broker for a whole test class, on a temporary data directory: declare it as
     * {@code @RegisterExtension static final RunningBroker broker = RunningBroker.perTestClass(...)}.
     */
    public static RunningBroker perTestClass(Map<String, String> env) {
        return perTestClass(env, Map.of());
    }

    public static RunningBroker perTestClass(Map<String, String> env, Map<String, String> camelProperties) {
        return new RunningBroker(env, camelProperties);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        boot(Files.createTempDirectory("mas-broker-test"));
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        close();
        try (var files = Files.walk(dataDir)) {
            for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    /** Starts the broker with test-friendly settings; {@code env} adds or overrides MESSAGE_BROKER_* variables. */
    public static RunningBroker start(Path dataDir, Map<String, String> env) throws Exception {
        return start(dataDir, env, Map.of());
    }

    public static RunningBroker start(Path dataDir, Map<String, String> env, Map<String, String> camelProperties)
            throws Exception {
        RunningBroker broker = new RunningBroker(env, camelProperties);
        broker.boot(dataDir);
        return broker;
    }

    private void boot(Path dataDir) throws Exception {
        this.dataDir = dataDir;
        httpPort = AvailablePortFinder.getNextAvailable();
        brokerPort = AvailablePortFinder.getNextAvailable();
        Map<String, String> environment = new HashMap<>();
        environment.put("MESSAGE_BROKER_DATA_DIR", dataDir.toString());
        environment.put("MESSAGE_BROKER_API_KEYS", API_KEY);
        environment.put("MESSAGE_BROKER_REDELIVERY_INITIAL_DELAY_MS", "20");
        environment.put("MESSAGE_BROKER_REDELIVERY_MAX_DELAY_MS", "200");
        // tests whose subject is not identity connect without credentials; identity tests set it to false
        environment.put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true");
        environment.putAll(env);
        Map<String, String> properties = new HashMap<>();
        properties.put("camel.server.port", String.valueOf(httpPort));
        properties.put("camel.management.port", String.valueOf(httpPort));
        properties.put("mas.embedded-broker.acceptor",
                "tcp://127.0.0.1:" + brokerPort + "?protocols=CORE,AMQP,STOMP,MQTT,OPENWIRE");
        properties.put("mas.ingress.file.poll-delay", "100");
        properties.put("mas.security.bcrypt-cost", "4"); // bcrypt's cheapest: tests connect often on 2 cores
        properties.putAll(camelProperties);
        String keystore = environment.getOrDefault("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", "");
        if (!keystore.isBlank()) {
            String password = environment.getOrDefault("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", "");
            scheme = "https";
            http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                    .sslContext(TestTls.trusting(Path.of(keystore), password)).build();
            artemisTls = "?sslEnabled=true&trustStoreType=PKCS12&trustStorePath=" + keystore + "&trustStorePassword="
                    + password;
        }
        main = BrokerLauncher.create(null, environment, properties);
        try {
            main.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> get("/observe/health", null).body().contains("UP"));
        } catch (Exception | AssertionError e) {
            close();
            throw e;
        }
    }

    /** For a router on an external broker in this JVM: {@link #artemis()} and {@link #depth} answer for that one. */
    void useExternalServer(ActiveMQServer server) {
        externalServer = server;
    }

    public CamelContext context() {
        return main.getCamelContext();
    }

    public Path dataDir() {
        return dataDir;
    }

    public int brokerPort() {
        return brokerPort;
    }

    public int httpPort() {
        return httpPort;
    }

    /** The broker this router uses: the embedded one, or the external one a harness named ({@link RouterPair}). */
    public ActiveMQServer artemis() {
        if (externalServer != null) {
            return externalServer;
        }
        return context().getRegistry().lookupByNameAndType(EmbeddedArtemis.BEAN_NAME, EmbeddedArtemis.class).server();
    }

    /** Messages in a queue, delivering ones included; 0 for a queue that does not exist. */
    public long depth(String queueName) {
        Queue queue = artemis().locateQueue(SimpleString.of(queueName));
        return queue == null ? 0 : queue.getMessageCount();
    }

    /** A new agent's queue that refuses every send, as a real broker does when an address is full with policy FAIL. */
    public String fullAgentQueue() throws JMSException {
        String agent = Envelopes.uniqueAgent("full");
        artemis().getAddressSettingsRepository().addMatch(MasNames.agentQueue(agent),
                new org.apache.activemq.artemis.core.settings.impl.AddressSettings().setMaxSizeMessages(1)
                        .setAddressFullMessagePolicy(org.apache.activemq.artemis.core.settings.impl.AddressFullMessagePolicy.FAIL));
        sendText(MasNames.agentQueue(agent), "filler", Map.of());
        await().until(() -> depth(MasNames.agentQueue(agent)) == 1);
        return agent;
    }

    public boolean queueExists(String queueName) {
        return artemis().locateQueue(SimpleString.of(queueName)) != null;
    }

    // ---- JMS, as an agent connecting over TCP

    /**
     * A new session on one shared connection; close it when done. An anonymous agent's over TCP; where anonymous
     * connections are refused (security.allow_anonymous false), the router's own in-VM one, so that tests still read
     * and write every queue as an operator would.
     */
    public synchronized Session session() throws JMSException {
        if (agentConnection == null) {
            if ("false".equalsIgnoreCase(env.get("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS"))) {
                EmbeddedArtemis embedded = context().getRegistry().lookupByNameAndType(EmbeddedArtemis.BEAN_NAME, EmbeddedArtemis.class);
                agentConnectionFactory = new ActiveMQConnectionFactory(embedded.inVmUrl());
                agentConnection = agentConnectionFactory.createConnection(MasNames.ROUTER_USER, embedded.routerPassword());
            } else {
                // with broker_url set (an external broker, e.g. RouterPair's), agents connect to that broker
                String external = env.get("MESSAGE_BROKER_BROKER_URL");
                agentConnectionFactory = new ActiveMQConnectionFactory(external != null ? external
                        : "tcp://127.0.0.1:" + brokerPort + artemisTls);
                agentConnection = agentConnectionFactory.createConnection();
            }
            agentConnection.start();
        }
        return agentConnection.createSession(false, Session.AUTO_ACKNOWLEDGE);
    }

    public void sendText(String queue, String text, Map<String, Object> properties) throws JMSException {
        Session session = session();
        Message message = session.createTextMessage(text);
        for (Map.Entry<String, Object> p : properties.entrySet()) {
            message.setObjectProperty(p.getKey(), p.getValue());
        }
        try (MessageProducer producer = session.createProducer(session.createQueue(queue))) {
            producer.send(message);
        } finally {
            session.close();
        }
    }

    /**
     * Receives up to {@code max} messages, waiting up to 10 s for the first and 1 s for each next: for "these came"
     * claims. A shorter list only says that nothing more came within 1 s, not that nothing more will come: for "exactly
     * n" or "none" claims use {@link #receiveExactly} (or {@link #depth}) once the work is known to be complete.
     */
    public List<Message> receive(String queue, int max) throws JMSException {
        return receive(queue, max, Duration.ofSeconds(1));
    }

    /**
     * Receives up to {@code max} messages, waiting up to 10 s for the first and {@code quiet} for each next. The caller
     * chooses the quiet period, and it bounds what the result proves: a message that comes later than {@code quiet}
     * after the previous one is not in the list.
     */
    public List<Message> receive(String queue, int max, Duration quiet) throws JMSException {
        Session session = session();
        MessageConsumer consumer = session.createConsumer(session.createQueue(queue));
        List<Message> messages = new ArrayList<>();
        Message message = consumer.receive(10_000);
        while (message != null) {
            messages.add(message);
            if (messages.size() >= max) {
                break;
            }
            message = consumer.receive(quiet.toMillis());
        }
        consumer.close();
        session.close();
        return messages;
    }

    /**
     * For "exactly n" claims ("no duplicate arrived"): call it once the work that puts messages on {@code queue} is
     * known to be complete (the REST answer came, the inbound message's transaction committed, the ledger shows its
     * last step). The server-side count of the queue, messages being delivered and scheduled included, must then be
     * exactly {@code n}; those n are received and returned, and the queue is left empty. Unlike a wait for one more
     * message, this does not depend on how soon a duplicate would have arrived.
     */
    public List<Message> receiveExactly(String queue, int n) throws JMSException {
        assertThat(depth(queue)).as("messages on %s", queue).isEqualTo(n);
        List<Message> messages = n == 0 ? List.of() : receive(queue, n, Duration.ofSeconds(10));
        assertThat(messages).as("messages received from %s", queue).hasSize(n);
        // the consumer's acknowledgments reach the broker asynchronously; a message that came meanwhile stays
        await().untilAsserted(() -> assertThat(depth(queue)).as("messages left on %s", queue).isZero());
        return messages;
    }

    /** The dead letter of message {@code id} on mas.dlq, waiting up to 30 s; fails the test if none comes. */
    public Message deadLetter(String id) throws JMSException {
        Session session = session();
        try (MessageConsumer consumer = session.createConsumer(session.createQueue("mas.dlq"), "mas_id = '" + id + "'")) {
            Message message = consumer.receive(30_000);
            if (message == null) {
                throw new AssertionError("no dead letter for " + id + " on mas.dlq");
            }
            return message;
        } finally {
            session.close();
        }
    }

    public Message receiveOne(String queue) throws JMSException {
        List<Message> messages = receive(queue, 1);
        return messages.isEmpty() ? null : messages.get(0);
    }

    // ---- HTTP, as an external system

    public HttpResponse<String> post(String path, String apiKey, String contentType, String body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (apiKey != null) {
            request.header("X-API-Key", apiKey);
        }
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> postMessage(String json) throws IOException, InterruptedException {
        return post("/api/messages", API_KEY, "application/json", json);
    }

    public HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Registers an agent with no capabilities or roles through POST /api/agents; returns the secret shown once. */
    public String registerAgent(String id) throws IOException, InterruptedException {
        HttpResponse<String> created = post("/api/agents", API_KEY, "application/json", "{\"id\":\"" + id + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(created.body()).get("secret").asText();
    }

    public HttpResponse<String> get(String path, String apiKey) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET();
        if (apiKey != null) {
            request.header("X-API-Key", apiKey);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    public URI uri(String path) {
        return URI.create(scheme + "://127.0.0.1:" + httpPort + path);
    }

    @Override
    public void close() {
        if (agentConnection != null) {
            try {
                agentConnection.close();
            } catch (JMSException ignored) {
                // the broker may be gone already
            }
        }
        if (agentConnectionFactory != null) {
            agentConnectionFactory.close();
        }
        if (main != null) {
            main.stop();
        }
    }
}
