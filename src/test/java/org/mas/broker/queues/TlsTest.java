package org.mas.broker.queues;

import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.config.BrokerLauncher;
import org.mas.broker.config.ConfigurationException;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RawStomp;
import org.mas.broker.support.RunningBroker;
import org.mas.broker.support.TestTls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * With security.tls set to a keystore made by keytool, the embedded acceptor (every protocol on it) and the REST API
 * speak TLS only: clients that trust the exported certificate connect and check the host name against its SAN; plain
 * connections to either port fail.
 */
class TlsTest {

    static final TestTls TLS = TestTls.generate();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(TLS.env());

    private final HttpClient trustingClient = HttpClient.newBuilder().sslContext(TLS.clientContext())
            .connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void aCoreJmsClientOverTlsSendsToInboundAndReceivesFromItsQueue() throws Exception {
        String agent = Envelopes.uniqueAgent("tls");
        // verifyHost: the client checks 127.0.0.1 against the certificate's SAN
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(
                "tcp://127.0.0.1:" + broker.brokerPort() + "?" + TLS.artemisClientParameters());
                Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            session.createProducer(session.createQueue("mas.inbound"))
                    .send(session.createTextMessage(Envelopes.withId("tls-jms-" + agent, agent, agent)));
            MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + agent));
            TextMessage received = (TextMessage) consumer.receive(30_000);
            assertThat(received).as("the message on mas.agent.%s", agent).isNotNull();
            assertThat(received.getStringProperty("mas_id")).isEqualTo("tls-jms-" + agent);
        }
    }

    @Test
    void aStompAgentOverTlsReceivesWhatAnHttpsPostSent() throws Exception {
        String agent = Envelopes.uniqueAgent("tls-py");
        try (RawStomp stomp = RawStomp.connect(tlsSocket(broker.brokerPort(), "localhost"))) {
            stomp.send("SUBSCRIBE", Map.of("id", "0", "destination", "mas.agent." + agent, "receipt", "subscribed"), null,
                    true);
            assertThat(stomp.read().command()).isEqualTo("RECEIPT");

            HttpResponse<String> posted = trustingClient.send(HttpRequest.newBuilder(https("/api/messages"))
                    .timeout(Duration.ofSeconds(30)).header("X-API-Key", RunningBroker.API_KEY)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(Envelopes.withId("tls-rest-" + agent, "crm", agent))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);

            RawStomp.Frame message = stomp.read();
            assertThat(message.command()).isEqualTo("MESSAGE");
            assertThat(message.headers()).containsEntry("mas_id", "tls-rest-" + agent);
        }
    }

    @Test
    void healthMetricsAndJsonErrorsAnswerOverHttps() throws Exception {
        assertThat(httpsGet("/observe/health").body()).contains("UP");
        assertThat(httpsGet("/observe/metrics").body()).contains("mas_");
        HttpResponse<String> missing = httpsGet("/api/no-such-thing");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(missing.body()).contains("\"error\":\"not found\"");
    }

    @Test
    void theHostNameIsCheckedAgainstTheCertificate() throws Exception {
        // the SAN names localhost and 127.0.0.1 (the same certificate answers on both ports)
        tlsSocket(broker.brokerPort(), "localhost").close();
        tlsSocket(broker.httpPort(), "127.0.0.1").close();
        assertThatThrownBy(() -> tlsSocket(broker.httpPort(), "mas.example.org"))
                .isInstanceOf(SSLHandshakeException.class).hasMessageContaining("mas.example.org");
        assertThatThrownBy(() -> tlsSocket(broker.brokerPort(), "mas.example.org"))
                .isInstanceOf(SSLHandshakeException.class).hasMessageContaining("mas.example.org");
    }

    @Test
    void aClientThatDoesNotTrustTheCertificateIsRefused() {
        HttpClient jvmDefaults = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThatThrownBy(() -> jvmDefaults.send(HttpRequest.newBuilder(https("/observe/health"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(SSLHandshakeException.class);
    }

    @Test
    void plainConnectionsToTheAcceptorFail() {
        assertThatThrownBy(() -> RawStomp.connect(broker.brokerPort()).close()).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> {
            try (ActiveMQConnectionFactory plain = new ActiveMQConnectionFactory(
                    "tcp://127.0.0.1:" + broker.brokerPort() + "?callTimeout=10000");
                    Connection connection = plain.createConnection()) {
                connection.start();
            }
        }).isInstanceOf(JMSException.class);
    }

    @Test
    void plainHttpToTheRestPortFails() {
        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThatThrownBy(() -> plain.send(HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + broker.httpPort() + "/observe/health"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class);
    }

    @Test
    void aWrongKeystorePasswordStopsStartUpNamingTheSetting() {
        Map<String, String> env = new HashMap<>(TLS.env());
        env.put("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", "not-the-password");
        env.put("MESSAGE_BROKER_DATA_DIR", broker.dataDir().resolve("never-used").toString());
        assertThatThrownBy(() -> BrokerLauncher.create(null, env, Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("message_broker.security.tls.keystore")
                .hasMessageContaining("security.tls.keystore_password")
                .hasMessageContaining("password was incorrect");
    }

    @Test
    void aWrongKeystorePasswordExitsWithTheConfigurationErrorCode() throws Exception {
        Map<String, String> env = new HashMap<>(TLS.env());
        env.put("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", "not-the-password");
        env.put("MESSAGE_BROKER_DATA_DIR", broker.dataDir().resolve("never-used").toString());
        assertThat(BrokerLauncher.runFromCommandLine(new String[0], env)).isEqualTo(2);
    }

    private java.net.URI https(String path) {
        return java.net.URI.create("https://127.0.0.1:" + broker.httpPort() + path);
    }

    private HttpResponse<String> httpsGet(String path) throws IOException, InterruptedException {
        return trustingClient.send(HttpRequest.newBuilder(https(path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A TLS socket to a loopback port that checks {@code serverName} against the certificate, as an HTTPS client does;
     * the handshake is complete when it returns.
     */
    private static SSLSocket tlsSocket(int port, String serverName) throws IOException {
        Socket plain = new Socket("127.0.0.1", port);
        SSLSocket socket = (SSLSocket) TLS.clientContext().getSocketFactory().createSocket(plain, serverName, port, true);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        socket.setSoTimeout(30_000);
        try {
            socket.startHandshake();
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        return socket;
    }
}
