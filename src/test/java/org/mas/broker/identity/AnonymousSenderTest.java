package org.mas.broker.identity;

import java.util.Map;

import jakarta.jms.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With security.allow_anonymous (RunningBroker's default), an anonymous sender is no authenticated agent, and a
 * validated user it writes itself is not believed: Artemis stamps the anonymous one over it.
 */
@Timeout(120)
class AnonymousSenderTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void aForgedValidatedUserFromAnAnonymousSenderIsNotBelieved() throws Exception {
        String sender = Envelopes.uniqueAgent("anonymous-sender");
        String victim = Envelopes.uniqueAgent("victim");
        String recipient = Envelopes.uniqueAgent("recipient");
        // were the forged value believed, from_agent (sender) would not match it (victim): mas.invalid
        broker.sendText("mas.inbound", Envelopes.withId("forged-user-" + sender, sender, recipient),
                Map.of("_AMQ_VALIDATED_USER", victim));
        Message copy = broker.receiveOne("mas.agent." + recipient);
        assertThat(copy).as("the copy on mas.agent.%s", recipient).isNotNull();
        assertThat(copy.getStringProperty("mas_from")).isEqualTo(sender);
        assertThat(copy.getStringProperty("_AMQ_VALIDATED_USER")).isNotEqualTo(victim);
        assertThat(broker.depth("mas.invalid")).isZero();
    }
}
