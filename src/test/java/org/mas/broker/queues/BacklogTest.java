package org.mas.broker.queues;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** backlog.max_depth = 2: REST answers 429, JMS ingress dead-letters with reason backlog; the queue stays at 2. */
class BacklogTest {

    @TempDir
    Path dataDir;

    @Test
    void aQueuePastItsBacklogLimitRefusesNewMessages() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of("MESSAGE_BROKER_BACKLOG_MAX_DEPTH", "2"))) {
            String agent = Envelopes.uniqueAgent("swamped");
            assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);
            assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(202);

            // the guard reads depths at most once a second
            await().untilAsserted(() -> assertThat(broker.postMessage(Envelopes.to("a", agent)).statusCode()).isEqualTo(429));
            HttpResponse<String> refused = broker.postMessage(Envelopes.to("a", agent));
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(new ObjectMapper().readTree(refused.body()).get("details").get(0).asText())
                    .startsWith("backlog: mas.agent." + agent + " holds ").endsWith("messages (limit 2)");

            broker.sendText("mas.inbound", Envelopes.withId("over-" + agent, "a", agent), Map.of());
            Message dead = broker.deadLetter("over-" + agent);
            assertThat(dead.getStringProperty("mas_error")).startsWith("backlog: mas.agent." + agent);
            assertThat(dead.getStringProperty("mas_target")).isEqualTo("mas.agent." + agent);
            long depth = broker.depth("mas.agent." + agent);
            // depths are read at most once a second and admissions counted between: a reading taken before the first two
            // messages landed, applied after, lets at most two more in
            assertThat(depth).isBetween(2L, 4L);
            // other agents are not affected
            assertThat(broker.postMessage(Envelopes.to("a", Envelopes.uniqueAgent("calm"))).statusCode()).isEqualTo(202);
        }
    }
}
