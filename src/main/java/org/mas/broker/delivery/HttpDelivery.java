package org.mas.broker.delivery;

import java.util.List;

import jakarta.jms.JMSException;
import jakarta.jms.TextMessage;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.EnvelopeProcessor;
import org.mas.broker.envelope.InvalidEnvelopeException;

/**
 * Delivery to external systems: agents configured with an {@code endpoint} get their queue's messages POSTed there as
 * the envelope JSON, with the mas_* properties as HTTP headers. Bean name {@code httpDelivery}.
 */
public class HttpDelivery {

    private static final List<String> FORWARDED = List.of(MasNames.HEADER_ID, MasNames.HEADER_FROM, MasNames.HEADER_TYPE,
            MasNames.HEADER_CORRELATION_ID, MasNames.HEADER_REQUIRES_ACK, MasNames.HEADER_ATTEMPTS);

    private final EnvelopeProcessor envelopes;

    public HttpDelivery(EnvelopeProcessor envelopes) {
        this.envelopes = envelopes;
    }

    /** Turns the consumed JMS message into the HTTP request; only the broker's own properties become headers. */
    public void toRequest(Exchange exchange, String agent) throws JMSException, InvalidEnvelopeException {
        Message in = exchange.getIn();
        jakarta.jms.Message jms = in.getBody(jakarta.jms.Message.class);
        in.removeHeaders("*");
        String body = jms instanceof TextMessage text ? text.getText() : null;
        for (String name : FORWARDED) {
            if (jms.propertyExists(name)) {
                in.setHeader(name, jms.getStringProperty(name));
            }
        }
        in.setHeader(MasNames.HEADER_TARGET, MasNames.recipientQueue(agent));
        exchange.setProperty(MasNames.PROPERTY_SENDER, org.mas.broker.queues.JmsConnections.TRANSACTED_COMPONENT);
        exchange.getExchangeExtension().setTransacted(true);
        in.setBody(body);
        // the envelope was validated when it was accepted; read again, it gives the dead-letter step what it needs
        envelopes.reload(exchange);
        in.setHeader(Exchange.HTTP_METHOD, "POST");
        in.setHeader(Exchange.CONTENT_TYPE, "application/json");
    }
}
