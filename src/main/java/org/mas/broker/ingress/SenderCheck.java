package org.mas.broker.ingress;

import java.util.Collection;
import java.util.List;

import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.InvalidEnvelopeException;

/**
 * Senders are who they say they are (contract section 7), checked once for every ingress after the envelope is
 * validated: over JMS, from_agent must be the agent the broker authenticated for the sending connection; over REST,
 * one of the agents the caller's API key is bound to, if it is bound. Files are trusted as far as the file system's
 * permissions on the inbox allow. Bean name {@code senders}.
 */
public class SenderCheck {

    public void check(Exchange exchange) throws InvalidEnvelopeException {
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        String from = envelope.getFromAgent();
        String authenticated = exchange.getProperty(MasNames.PROPERTY_AUTHENTICATED_AGENT, String.class);
        if (authenticated != null && !authenticated.equals(from)) {
            throw new InvalidEnvelopeException("from_agent '" + from + "' is not the authenticated agent '"
                    + authenticated + "'", 403, List.of("$.from_agent: an agent sends only as itself"));
        }
        Collection<?> allowed = exchange.getProperty(MasNames.PROPERTY_API_KEY_AGENTS, Collection.class);
        if (allowed != null && !allowed.contains(from)) {
            throw new InvalidEnvelopeException("API key '" + exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class)
                    + "' may not send as '" + from + "'", 403, List.of("$.from_agent: this key may send as " + allowed));
        }
    }
}
