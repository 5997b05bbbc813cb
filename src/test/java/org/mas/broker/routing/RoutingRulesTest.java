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
import static org.awaitility.Awaitility.await;

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

    @Test
    void aReplayThatFailsAgainLeavesItsNewDeadLetter(@TempDir Path emptyDataDir) throws Exception {
        try (RunningBroker lonely = RunningBroker.start(emptyDataDir, Map.of())) {
            assertThat(lonely.postMessage("{\"id\":\"nobody-2\",\"from_agent\":\"hermit\",\"to_agent\":\"broadcast\","
                    + "\"message_type\":\"broadcast\",\"payload\":{}}").statusCode()).isEqualTo(202);
            await().until(() -> lonely.depth("mas.dlq") == 1);
            for (int replay = 1; replay <= 2; replay++) {
                // still nobody to go to: the replay takes the dead letter and parks the message again, never drops it
                var replayed = lonely.post("/api/dlq/nobody-2/replay", RunningBroker.API_KEY, "application/json", "");
                assertThat(replayed.statusCode()).as(replayed.body()).isEqualTo(202);
                assertThat(lonely.depth("mas.dlq")).as("after replay %d", replay).isEqualTo(1);
            }
            TextMessage dead = (TextMessage) lonely.receiveOne("mas.dlq");
            assertThat(dead.getStringProperty("mas_id")).isEqualTo("nobody-2");
            assertThat(dead.getStringProperty("mas_error")).startsWith("unroutable");
        }
    }
}
