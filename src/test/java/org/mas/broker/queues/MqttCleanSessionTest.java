package org.mas.broker.queues;

import java.util.Map;

import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * With security.allow_anonymous (every permission), an MQTT agent that reads its queue by the fully qualified name
 * and ends a clean session used to make Artemis delete that queue with whatever was on it: the broker refuses to let
 * a client's session destroy a MAS queue.
 */
class MqttCleanSessionTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true"));

    @Test
    void anAgentQueueOutlivesACleanSessionThatReadItByItsFullName() throws Exception {
        String agent = Envelopes.uniqueAgent("mqtt-anon");
        for (int i = 0; i < 3; i++) {
            assertThat(broker.postMessage(Envelopes.to("boss", agent)).statusCode()).isEqualTo(202);
        }
        await().until(() -> broker.depth("mas.agent." + agent) == 3);
        MqttClient client = new MqttClient("tcp://127.0.0.1:" + broker.brokerPort(), "anon-" + agent, new MemoryPersistence());
        MqttConnectOptions options = new MqttConnectOptions();
        options.setCleanSession(true);
        client.connect(options);
        // subscribe, then leave before taking anything: a clean session removes its subscriptions
        client.setCallback(null);
        client.subscribeWithResponse("mas/agent/" + agent + "::mas/agent/" + agent, 1).waitForCompletion(30_000);
        client.unsubscribe("mas/agent/" + agent + "::mas/agent/" + agent);
        client.disconnect();
        client.close();
        assertThat(broker.queueExists("mas.agent." + agent)).isTrue();
        assertThat(broker.queueExists("mas.inbound")).isTrue();
        // what the agent had not acknowledged is still there or back (QoS 1 deliveries without PUBACK return)
        await().until(() -> broker.depth("mas.agent." + agent) == 3);
    }
}
