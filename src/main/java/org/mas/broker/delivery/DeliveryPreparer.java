package org.mas.broker.delivery;

import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.jms.JmsConstants;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.queues.AgentQueueActivity;

/** Readies one copy of a message for one recipient's queue. Bean name {@code delivery}. */
public class DeliveryPreparer {

    private final AgentQueueActivity activity;

    public DeliveryPreparer(AgentQueueActivity activity) {
        this.activity = activity;
    }


    /**
     * Artemis's duplicate id of one recipient's copy: the same on every path that sends it (in a batch's transaction,
     * through the route, after a redelivery), so that a copy sent twice is dropped.
     */
    public static String duplicateId(String messageId, String agentId) {
        return messageId + ":" + agentId;
    }

    /** Called inside the split over {@code mas_recipients}: the body is the recipient's agent id. */
    public void toAgentQueue(Exchange exchange) {
        Message in = exchange.getIn();
        String agentId = in.getBody(String.class);
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        String queue = MasNames.agentQueue(agentId);
        activity.sendingTo(agentId);
        in.removeHeader(MasNames.HEADER_RECIPIENTS);
        in.setHeader(MasNames.HEADER_TARGET, queue);
        in.setHeader(JmsConstants.JMS_DESTINATION_NAME, queue);
        String replay = exchange.getProperty(MasNames.PROPERTY_REPLAY, String.class);
        in.setHeader(MasNames.HEADER_DUPLICATE_ID, duplicateId(envelope.getId(), agentId) + (replay == null ? "" : ":replay:" + replay));
        in.setBody(envelope.toJson());
    }
}
