package org.mas.broker.identity;

import jakarta.jms.JMSException;
import jakarta.jms.Message;

import org.mas.broker.MasNames;

/**
 * Who sent a message that came through mas.inbound or mas.acks, as the broker authenticated the sending connection:
 * the stamp ({@link MasNames#HEADER_SENDER}) that DurableIngressPlugin puts on every protocol's messages, replacing
 * whatever the client wrote.
 */
public final class AuthenticatedSender {

    public enum Kind {
        /** an agent of the registry: from_agent (or an acknowledgment's agent) must be it */
        AGENT,
        /** the router's own in-VM connection */
        ROUTER,
        /** a connection without credentials, let in by security.allow_anonymous */
        ANONYMOUS,
        /** no stamp: the session had no authenticated user (security off), or the broker lacks DurableIngressPlugin */
        UNKNOWN
    }

    public record Sender(Kind kind, String agent) {
        /** Whether a message from this sender may name any from_agent: the router's, and the others' only if allowed. */
        public boolean unchecked(boolean trustUnauthenticated) {
            return kind == Kind.ROUTER || (kind != Kind.AGENT && trustUnauthenticated);
        }
    }

    private AuthenticatedSender() {
    }

    public static Sender of(Message jms) throws JMSException {
        String user = jms.getStringProperty(MasNames.HEADER_SENDER);
        if (user == null) {
            return new Sender(Kind.UNKNOWN, null);
        }
        if (user.equals(MasNames.ROUTER_USER)) {
            return new Sender(Kind.ROUTER, null);
        }
        if (user.equals(MasNames.ANONYMOUS_USER)) {
            return new Sender(Kind.ANONYMOUS, null);
        }
        return new Sender(Kind.AGENT, user); // compared as it is: a name no agent has never matches a from_agent
    }
}
