package org.mas.broker.delivery;

import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.jms.JmsConstants;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.CopyProperties;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.queues.AgentQueueActivity;

/** Readies one copy of a message for one recipient's queue. Bean name {@code delivery}. */
public class DeliveryPreparer {

    private final AgentQueueActivity activity;

    public DeliveryPreparer(AgentQueueActivity activity) {
        this.activity = activity;
    }
    /** Called inside the split over {@code mas_recipients}: the body is the recipient (an agent id or a capability). */
    public void toAgentQueue(Exchange exchange) {
        Message in = exchange.getIn();
        String recipient = in.getBody(String.class);
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        String queue = MasNames.recipientQueue(recipient);
        activity.sendingTo(recipient);
        in.removeHeader(MasNames.HEADER_RECIPIENTS);
        in.setHeader(JmsConstants.JMS_DESTINATION_NAME, queue);
        String replay = exchange.getProperty(MasNames.PROPERTY_REPLAY, String.class);
        CopyProperties.forRecipient(in::setHeader, recipient, CopyProperties.duplicateId(envelope.getId(), recipient, replay));
        in.setBody(envelope.toJson());
    }
}
