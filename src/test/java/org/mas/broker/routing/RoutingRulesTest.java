package org.mas.broker.routing;

import java.nio.file.Path;
import java.util.Map;

import jakarta.jms.Message;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/** Broadcast to agents known from configuration, and what happens to a message nobody can receive. */
class RoutingRulesTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_AGENTS", "alpha,beta"));



    @Test
    void broadcastReachesConfiguredAgentsThatHaveNoQueueYet() throws Exception {
        broker.sendText("mas.inbound", "{\"from_agent\":\"alpha\",\"to_agent\":\"broadcast\",\"message_type\":\"broadcast\","
                + "\"payload\":{\"news\":1}}", Map.of());

        Message received = broker.receiveOne("mas.agent.beta");
        assertThat(received).isNotNull();
        assertThat(received.getStringProperty("mas_from")).isEqualTo("alpha");
        assertThat(broker.depth("mas.agent.alpha")).isZero();
    }

    @Test
    void aMessageWithNoRecipientIsDeadLetteredAsUnroutableAtOnce(@TempDir Path emptyDataDir) throws Exception {
        // a broker that knows no agent at all: a broadcast has nobody to go to
        try (RunningBroker lonely = RunningBroker.start(emptyDataDir, Map.of())) {
            var response = lonely.postMessage("{\"id\":\"nobody-1\",\"from_agent\":\"hermit\",\"to_agent\":\"broadcast\","
                    + "\"message_type\":\"broadcast\",\"payload\":{}}");
            assertThat(response.statusCode()).isEqualTo(202);

            TextMessage dead = (TextMessage) lonely.receiveOne("mas.dlq");
            assertThat(dead).isNotNull();
            assertThat(dead.getStringProperty("mas_id")).isEqualTo("nobody-1");
            assertThat(dead.getStringProperty("mas_error")).startsWith("unroutable: no recipient");
            assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(1);
            assertThat(dead.getStringProperty("mas_target")).isEqualTo("router");
            assertThat(dead.getText()).contains("\"from_agent\":\"hermit\"");
        }
    }
}
