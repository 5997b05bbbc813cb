package org.mas.broker.ingress;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.MessageProducer;
import jakarta.jms.ObjectMessage;
import jakarta.jms.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What a hostile or careless client sends over the broker's own protocols never stalls the ingress and never hides
 * another message: a body the router cannot be given is refused at the broker, and a sender's own duplicate id
 * decides nothing.
 */
class HostileSendersTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void anAmqpBodyTheRouterCannotBeGivenIsRefusedAtTheBrokerAndNothingStalls() throws Exception {
        String agent = Envelopes.uniqueAgent("after-amqp");
        var factory = new org.apache.qpid.jms.JmsConnectionFactory("amqp://127.0.0.1:" + broker.brokerPort());
        try (Connection connection = factory.createConnection()) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"));
            for (int i = 0; i < 3; i++) {
                // an AMQP map holding a map and a list: Artemis cannot turn it into a message for a JMS consumer
                ObjectMessage poison = session.createObjectMessage();
                poison.setBooleanProperty("JMS_AMQP_TYPED_ENCODING", true);
                HashMap<String, Object> body = new HashMap<>();
                body.put("from_agent", "mallory");
                body.put("payload", new HashMap<>(Map.of("x", 1)));
                body.put("to_agents", new ArrayList<>(List.of("a", "b")));
                poison.setObject(body);
                assertThatThrownBy(() -> producer.send(poison)).isInstanceOf(JMSException.class);
            }
            producer.send(session.createTextMessage(Envelopes.withId("after-amqp-" + agent, "alice", agent)));
        }
        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(broker.depth("mas.dlq")).isZero();
        assertThat(broker.depth("mas.inbound")).isZero();
    }

    @Test
    void aClientsDuplicateIdOnAnAgentQueueDoesNotHideTheRoutersCopy() throws Exception {
        String victim = Envelopes.uniqueAgent("victim");
        String id = "order-" + victim;
        // sent straight to the agent's queue over TCP, under the duplicate id the router's copy will have
        broker.sendText("mas.agent." + victim, "decoy", Map.of("_AMQ_DUPL_ID", id + ":" + victim));
        assertThat(broker.receive("mas.agent." + victim, 1)).hasSize(1);

        assertThat(broker.postMessage(Envelopes.withId(id, "planner", victim)).statusCode()).isEqualTo(202);

        var copy = broker.receiveOne("mas.agent." + victim);
        assertThat(copy).isNotNull();
        assertThat(copy.getStringProperty("mas_id")).isEqualTo(id);
    }

    @Test
    void aSendersDuplicateIdOnMasInboundDecidesNothing() throws Exception {
        String agent = Envelopes.uniqueAgent("dupl");
        // two different messages under one client-chosen duplicate id: both are the router's to judge, by their ids
        broker.sendText("mas.inbound", Envelopes.withId("first-" + agent, "alice", agent), Map.of("_AMQ_DUPL_ID", "same-" + agent));
        broker.sendText("mas.inbound", Envelopes.withId("second-" + agent, "alice", agent), Map.of("_AMQ_DUPL_ID", "same-" + agent));
        await().until(() -> broker.depth("mas.agent." + agent) == 2);
    }
}
