package org.mas.broker.config;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.settings.impl.AddressFullMessagePolicy;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.camel.test.AvailablePortFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.queues.EmbeddedArtemis;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.ExternalArtemis;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

@Timeout(120)
class StartupTest {

    @TempDir
    Path dir;

    @Test
    void aBadSettingStopsStartUpWithExitCode2AndNamesTheKey() throws Exception {
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "message_broker:\n  alert_thresholds:\n    retry_count: many\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream original = System.err;
        int exit;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            exit = BrokerLauncher.runFromCommandLine(new String[] {"--config", config.toString()}, Map.of());
        } finally {
            System.setErr(original);
        }
        assertThat(exit).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("Configuration error: message_broker.alert_thresholds.retry_count")
                .contains("'many'");
    }

    @Test
    void aBadEnvironmentOverrideStopsStartUpAndNamesTheKey() {
        assertThatThrownBy(() -> BrokerLauncher.create(null, Map.of("MESSAGE_BROKER_ALERT_THRESHOLDS_FAILURE_RATE", "5"), Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("message_broker.alert_thresholds.failure_rate");
    }

    @Test
    void aRouteFileWithAnErrorStopsStartUpNamingTheFileAndReleasesTheBroker() throws Exception {
        Path routes = Files.createDirectories(dir.resolve("extra-routes"));
        Files.writeString(routes.resolve("broken-rules.yaml"), "- route:\n    from:\n      uri: direct:x\n      steps:\n        - noSuchStep: {}\n");
        Path data = dir.resolve("data");
        Map<String, String> properties = Map.of("camel.main.routes-include-pattern",
                "file:routes/**/*.yaml,file:" + routes.toAbsolutePath() + "/*.yaml");

        assertThatThrownBy(() -> RunningBroker.start(data, Map.of(), properties))
                .satisfies(e -> assertThat(causeChain(e)).contains("broken-rules.yaml"));

        // the embedded broker that had started is stopped again: its journal can be opened by the next start
        try (RunningBroker again = RunningBroker.start(data, Map.of())) {
            assertThat(again.postMessage(Envelopes.to("a", "b")).statusCode()).isEqualTo(202);
        }
    }

    @Test
    void aBrokerUrlUsesThatBrokerAndStartsNoEmbeddedOne() throws Exception {
        int port = AvailablePortFinder.getNextAvailable();
        EmbeddedActiveMQ external = ExternalArtemis.start(dir.resolve("external"), port);
        try (RunningBroker broker = RunningBroker.start(dir.resolve("data"),
                Map.of("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + port))) {
            assertThat(broker.context().getRegistry().lookupByName(EmbeddedArtemis.BEAN_NAME)).isNull();
            String agent = Envelopes.uniqueAgent("remote");

            assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);

            await().untilAsserted(() -> {
                Queue queue = external.getActiveMQServer().locateQueue(SimpleString.of("mas.agent." + agent));
                assertThat(queue).isNotNull();
                assertThat(queue.getMessageCount()).isEqualTo(1);
            });
            // the router applied its mas.* address settings through the management address; the rest is untouched
            AddressSettings agentSettings = external.getActiveMQServer().getAddressSettingsRepository().getMatch("mas.agent." + agent);
            assertThat(String.valueOf(agentSettings.getDeadLetterAddress())).isEqualTo("mas.dlq");
            assertThat(String.valueOf(agentSettings.getExpiryAddress())).isEqualTo("mas.expired.ledger");
            assertThat(agentSettings.getAddressFullMessagePolicy()).isEqualTo(AddressFullMessagePolicy.PAGE);
            assertThat(agentSettings.getMaxDeliveryAttempts()).isEqualTo(4); // retry_count 3 + the first delivery
            assertThat(external.getActiveMQServer().getAddressSettingsRepository().getMatch("mas.inbound")
                    .getRedeliveryDelay()).isZero();
            assertThat((Object) external.getActiveMQServer().getAddressSettingsRepository().getMatch("other.queue")
                    .getDeadLetterAddress()).isNull();
        } finally {
            external.stop();
        }
    }

    @Test
    void messagesFromAnExternalBrokerThatStampsNoSenderAreRefusedWhileAnonymousIsOff() throws Exception {
        // no security, no DurableIngressPlugin on that broker: nobody vouches for from_agent, so it is not believed
        int port = AvailablePortFinder.getNextAvailable();
        EmbeddedActiveMQ external = ExternalArtemis.start(dir.resolve("unstamped"), port);
        try (RunningBroker broker = RunningBroker.start(dir.resolve("data-unstamped"), Map.of(
                "MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + port, "MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false"));
             org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory factory =
                     new org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory("tcp://127.0.0.1:" + port);
             jakarta.jms.Connection connection = factory.createConnection()) {
            String agent = Envelopes.uniqueAgent("unstamped");
            jakarta.jms.Session session = connection.createSession(false, jakarta.jms.Session.AUTO_ACKNOWLEDGE);
            session.createProducer(session.createQueue("mas.inbound")).send(session.createTextMessage(Envelopes.to("boss", agent)));
            await().untilAsserted(() -> {
                Queue invalid = external.getActiveMQServer().locateQueue(SimpleString.of("mas.invalid"));
                assertThat(invalid).isNotNull();
                assertThat(invalid.getMessageCount()).isEqualTo(1);
            });
            connection.start();
            jakarta.jms.Message refused = session.createConsumer(session.createQueue("mas.invalid")).receive(10_000);
            assertThat(refused.getStringProperty("mas_error")).contains("did not authenticate the sender");
            assertThat(refused.getBody(String.class)).contains(agent); // kept for whoever looks into it
            assertThat(external.getActiveMQServer().locateQueue(SimpleString.of("mas.agent." + agent))).isNull();
        } finally {
            external.stop();
        }
    }

    private static String causeChain(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            text.append(t).append('\n');
        }
        return text.toString();
    }
}
