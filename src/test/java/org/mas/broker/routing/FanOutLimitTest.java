package org.mas.broker.routing;

import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.MasNames;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fan-out has a cap: a broadcast that would make more than {@link MasNames#MAX_RECIPIENTS} copies is parked on mas.dlq
 * with the reason instead. And on a fresh broker every labelled counter is already exported, at 0, so alert rules
 * over them see a series before the first event.
 */
class FanOutLimitTest {

    private static final int AGENTS = MasNames.MAX_RECIPIENTS + 1;

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_AGENTS",
            IntStream.range(0, AGENTS).mapToObj(i -> "fan-" + i).collect(Collectors.joining(","))));

    @Test
    void labelledCountersExistAtZeroBeforeTheFirstEvent() throws Exception {
        String metrics = broker.get("/observe/metrics", null).body();
        assertThat(metrics).contains("mas_messages_invalid_total{ingress=\"jms\"} 0.0",
                "mas_messages_dead_lettered_total{reason=\"backlog\"} 0.0",
                "mas_messages_dead_lettered_total{reason=\"ack_timeout\"} 0.0",
                "mas_messages_received_total{ingress=\"file\"} 0.0",
                "mas_messages_routed_total{target_kind=\"http_endpoint\"} 0.0",
                "mas_deliveries_total{outcome=\"expired\"} 0.0",
                "mas_messages_duplicate_total{ingress=\"rest\"} 0.0",
                "mas_ledger_set_aside_total 0.0");
    }

    @Test
    void aBroadcastPastTheFanOutLimitIsParkedWithTheReason() throws Exception {
        var response = broker.postMessage("{\"id\":\"too-wide\",\"from_agent\":\"herald\",\"to_agent\":\"broadcast\","
                + "\"message_type\":\"event\",\"payload\":{}}");
        assertThat(response.statusCode()).isEqualTo(202);
        var deadLetter = broker.deadLetter("too-wide");
        assertThat(deadLetter.getStringProperty("mas_error")).contains(AGENTS + " recipients", "fan-out limit of "
                + MasNames.MAX_RECIPIENTS);
        assertThat(broker.depth("mas.agent.fan-0")).isZero(); // registered agents have their queue from the start
    }
}
