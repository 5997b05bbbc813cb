package org.mas.broker.identity;

import jakarta.jms.JMSException;
import jakarta.jms.Message;

import org.mas.broker.MasNames;

/** Who sent a message that came through the broker, as the broker authenticated the sending connection. */
public final class AuthenticatedSender {

    private AuthenticatedSender() {
    }

    /**
     * The agent the broker authenticated for the connection that sent this message: its validated user, which the
     * embedded broker sets on everything that reaches mas.inbound and mas.acks (a client's own value never stays).
     * Null for the router's own messages and for anonymous senders (security.allow_anonymous).
     */
    public static String of(Message jms) throws JMSException {
        String user = jms.getStringProperty(MasNames.HEADER_VALIDATED_USER);
        return user == null || user.equals(MasNames.ROUTER_USER) || !MasNames.isAgentId(user) ? null : user;
    }
}
