package org.mas.broker.delivery;

import java.util.Map;

import org.apache.camel.Exchange;
import org.apache.camel.Message;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.InvalidEnvelopeException;

/**
 * Readies what goes to mas.dlq and mas.invalid: the reason, the attempts and the target as properties, no expiry,
 * and a duplicate id so that a resend after a crash does not park the message twice. Bean name {@code deadLetters}.
 */
public class DeadLetters {

    /** Target named in mas_target when the failure happened before a recipient queue was chosen. */
    public static final String TARGET_ROUTER = "router";

    public void prepareDeadLetter(Exchange exchange) {
        Message in = exchange.getIn();
        Exception cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        String target = in.getHeader(MasNames.HEADER_TARGET, TARGET_ROUTER, String.class);
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        clearRoutingHeaders(in);
        deadLetter(in::setHeader, reason(cause), AttemptCounter.attempts(exchange), target,
                envelope == null ? null : duplicateId(envelope.getId(), target, generation(exchange)));
        if (envelope != null) {
            in.setBody(envelope.toJson());
        }
    }

    /**
     * The one definition of what a dead letter carries on top of its copy's properties, for every path (the
     * dead-letter route, the acknowledgment tracker): the reason, the attempts, the target, persistent and never
     * expiring, and its duplicate id (none when the message was never read).
     */
    public static void deadLetter(java.util.function.BiConsumer<String, Object> properties, String reason, int attempts,
                                  String target, String duplicateId) {
        properties.accept(MasNames.HEADER_ERROR, reason);
        properties.accept(MasNames.HEADER_ATTEMPTS, attempts);
        properties.accept(MasNames.HEADER_TARGET, target);
        properties.accept("JMSExpiration", 0L); // what is parked never expires
        properties.accept("JMSDeliveryMode", 2);
        if (duplicateId != null) {
            properties.accept(MasNames.HEADER_DUPLICATE_ID, duplicateId);
        }
    }

    /**
     * The one duplicate-id scheme of every dead letter, from any path: the message, the target, and what makes this
     * dead-lettering unique (a replay's token, the inbound JMS message, an acknowledgment round). A resend of the same
     * dead letter after a crash is dropped; a second failure of the same message (after a replay, say) never is.
     */
    public static String duplicateId(String messageId, String target, String generation) {
        return "dlq:" + messageId + ":" + target + ":" + generation;
    }

    /** Stable across redeliveries of the same inbound message, different for each replay of it. */
    private static String generation(Exchange exchange) {
        String replay = exchange.getProperty(MasNames.PROPERTY_REPLAY, String.class);
        if (replay != null) {
            return "replay:" + replay;
        }
        String inbound = exchange.getProperty(MasNames.PROPERTY_INBOUND_MESSAGE_ID, String.class);
        return inbound != null ? inbound : exchange.getExchangeId();
    }

    public void prepareInvalid(Exchange exchange) {
        Message in = exchange.getIn();
        InvalidEnvelopeException cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, InvalidEnvelopeException.class);
        Map<?, ?> original = exchange.getProperty(MasNames.PROPERTY_ORIGINAL_PROPERTIES, Map.class);
        if (original != null) {
            original.forEach((name, value) -> in.setHeader(String.valueOf(name), value));
        }
        in.setHeader(MasNames.HEADER_ERROR, cause.describe());
        String sender = exchange.getProperty(MasNames.PROPERTY_AUTHENTICATED_AGENT, String.class);
        if (sender != null) {
            in.setHeader(MasNames.HEADER_SENDER, sender); // who really sent it, as the broker authenticated them
        }
        String inboundId = exchange.getProperty(MasNames.PROPERTY_INBOUND_MESSAGE_ID, String.class);
        if (inboundId != null) {
            in.setHeader(MasNames.HEADER_DUPLICATE_ID, "invalid:" + inboundId);
        }
        clearRoutingHeaders(in);
    }

    private static void clearRoutingHeaders(Message in) {
        in.removeHeader(MasNames.HEADER_RECIPIENTS);
        in.removeHeaders("CamelJms*"); // never send a dead letter to the recipient queue
        in.setHeader("JMSExpiration", 0L); // what is parked never expires
        in.setHeader("JMSDeliveryMode", 2);
    }

    private static String reason(Exception cause) {
        if (cause == null) {
            return "unknown failure";
        }
        if (cause instanceof org.mas.broker.routing.UnroutableException
                || cause instanceof org.mas.broker.queues.BacklogGuard.BacklogException) {
            return cause.getMessage();
        }
        if (cause instanceof org.apache.camel.http.base.HttpOperationFailedException http) {
            String body = http.getResponseBody() == null ? "" : http.getResponseBody().strip();
            return "HTTP " + http.getStatusCode() + " from " + http.getUri()
                    + (body.isEmpty() ? "" : ": " + (body.length() > 300 ? body.substring(0, 300) + "..." : body));
        }
        // wrappers (Spring's JMS exceptions, Camel's) say little: name the deepest cause that has a message
        Throwable root = cause;
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                root = t;
            }
        }
        String reason = root.getClass().getSimpleName() + ": " + (root.getMessage() == null ? "" : root.getMessage());
        return reason.length() > 1000 ? reason.substring(0, 1000) : reason;
    }
}
