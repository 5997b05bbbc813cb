package org.mas.broker.queues;

import java.util.HashMap;
import java.util.Map;

import org.eclipse.paho.client.mqttv3.IMqttToken;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Artemis's MQTT protocol destroys the queue a subscription named when the SUBSCRIBE is refused, and when a clean
 * session ends, without a delete permission check. No agent may delete a queue that way: not another agent's (with
 * its messages), not mas.inbound or mas.dlq, and not its own when it disconnects.
 */
class MqttQueueDeletionTest {

    private static final Map<String, String> secrets = new HashMap<>();

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false"));

    private static String register(String prefix) throws Exception {
        String id = Envelopes.uniqueAgent(prefix);
        secrets.put(id, broker.registerAgent(id));
        return id;
    }

    private static MqttClient connect(String agent) throws Exception {
        MqttClient client = new MqttClient("tcp://127.0.0.1:" + broker.brokerPort(), "mqtt-" + agent, new MemoryPersistence());
        MqttConnectOptions options = new MqttConnectOptions();
        options.setCleanSession(true);
        options.setUserName(agent);
        options.setPassword(secrets.get(agent).toCharArray());
        client.connect(options);
        return client;
    }

    @Test
    void aRefusedSubscriptionDeletesNoQueue() throws Exception {
        String victim = register("victim");
        String attacker = register("attacker");
        for (int i = 0; i < 2; i++) {
            assertThat(broker.postMessage(Envelopes.withId("kept-" + i + "-" + victim, "boss", victim)).statusCode()).isEqualTo(202);
        }
        await().until(() -> broker.depth("mas.agent." + victim) == 2);
        for (String topic : new String[] {"mas/agent/" + victim, "mas/agent/" + victim + "::mas/agent/" + victim,
                "mas/inbound", "mas/dlq::mas/dlq", "mas/invalid", "#", "mas/#"}) {
            MqttClient client = connect(attacker);
            try {
                // refused: the broker closes the connection (paho's subscribe then fails), never a granted QoS
                assertThatThrownBy(() -> client.subscribeWithResponse(topic, 1).waitForCompletion(30_000)).as(topic)
                        .isInstanceOf(org.eclipse.paho.client.mqttv3.MqttException.class);
            } finally {
                if (client.isConnected()) {
                    client.disconnectForcibly();
                }
                client.close(true);
            }
        }
        assertThat(broker.queueExists("mas.agent." + victim)).isTrue();
        assertThat(broker.depth("mas.agent." + victim)).isEqualTo(2);
        for (String queue : new String[] {"mas.inbound", "mas.dlq", "mas.invalid"}) {
            assertThat(broker.queueExists(queue)).as(queue).isTrue();
        }
        // and the router still takes messages
        assertThat(broker.postMessage(Envelopes.to("boss", victim)).statusCode()).isEqualTo(202);
        await().until(() -> broker.depth("mas.agent." + victim) == 3);
    }

    @Test
    void anAgentsOwnQueueOutlivesItsCleanSession() throws Exception {
        String agent = register("mqtt-own");
        MqttClient client = connect(agent);
        IMqttToken token = client.subscribeWithResponse("mas/agent/" + agent + "::mas/agent/" + agent, 1);
        assertThat(token.getGrantedQos()).containsExactly(1);
        client.disconnect();
        client.close();
        // once the broker has ended the session (its consumer gone), the queue is still there: the agent comes back to it
        await().until(() -> {
            var queue = broker.artemis().locateQueue(org.apache.activemq.artemis.api.core.SimpleString.of("mas.agent." + agent));
            return queue == null || queue.getConsumerCount() == 0;
        });
        assertThat(broker.queueExists("mas.agent." + agent)).isTrue();
        MqttClient again = connect(agent);
        try {
            assertThat(again.subscribeWithResponse("mas/agent/" + agent + "::mas/agent/" + agent, 1).getGrantedQos())
                    .containsExactly(1);
        } finally {
            again.disconnect();
            again.close();
        }
    }
}
