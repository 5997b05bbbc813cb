package org.mas.broker.delivery.ledger;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.camel.Exchange;
import org.apache.camel.support.SynchronizationAdapter;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.AttemptCounter;
import org.mas.broker.envelope.Envelope;

/**
 * What the routes call to record a step (bean name {@code ledger}). Steps of an exchange consumed in a JMS transaction
 * are held until the exchange completes and dropped if it rolls back, so the ledger does not report a queued copy that
 * the broker never kept.
 */
public class LedgerRecorder {

    private static final String PROPERTY_DEFERRED = "masLedgerSteps";

    private final DeliverySteps steps;
    private final DeliveryLedger ledger;
    private final long ackTimeoutMs;
    private final Runnable beforeRestAnswer;

    public LedgerRecorder(DeliverySteps steps, DeliveryLedger ledger, long ackTimeoutMs) {
        this(steps, ledger, ackTimeoutMs, () -> { });
    }

    /**
     * @param beforeRestAnswer run before every REST answer leaves: with several routers, waits until the ledger has
     *                         written what this router recorded (at once when nothing is pending), so that a read on
     *                         any router after the answer sees it
     */
    public LedgerRecorder(DeliverySteps steps, DeliveryLedger ledger, long ackTimeoutMs, Runnable beforeRestAnswer) {
        this.steps = steps;
        this.ledger = ledger;
        this.ackTimeoutMs = ackTimeoutMs;
        this.beforeRestAnswer = beforeRestAnswer;
    }

    /** After validation: the message is the broker's now. */
    public void accepted(Exchange exchange) {
        Envelope envelope = envelope(exchange);
        Instant now = Instant.ofEpochMilli(exchange.getClock().getCreated()); // received: the same instant as acceptedAt
        record(exchange, new LedgerEvent(LedgerEvent.Kind.ACCEPTED, envelope.getId(), null, 0, now, null, null,
                envelope.isRequiresAck(), null, acceptedMessage(exchange, envelope)));
        record(exchange, new LedgerEvent(LedgerEvent.Kind.AGENT_SEEN, envelope.getId(), envelope.getFromAgent(), 0, now,
                null, null, false, null, null));
    }

    /** After the send of one recipient's copy (inside the split over recipients). */
    public void queued(Exchange exchange) {
        if (exchange.getProperty(MasNames.PROPERTY_DEAD_LETTERED, false, Boolean.class)) {
            return;
        }
        Envelope envelope = envelope(exchange);
        Instant now = Instant.now();
        boolean ack = envelope.isRequiresAck();
        // a copy that must be acknowledged carries what the acknowledgment tracker needs to send it again
        LedgerEvent queued = new LedgerEvent(LedgerEvent.Kind.QUEUED, envelope.getId(), recipient(exchange), 1, now, null,
                null, ack, ack ? now.plusMillis(ackTimeoutMs) : null, ack ? acceptedMessage(exchange, envelope) : null);
        record(exchange, queued);
        if (ack) {
            writeAhead(exchange, envelope, queued);
        }
    }

    /**
     * A copy that must be acknowledged is in the database before its transaction commits (before the REST answer):
     * its deadline then outlives a router that dies before its writer wrote the step. One write per JMS batch.
     */
    private void writeAhead(Exchange exchange, Envelope envelope, LedgerEvent queued) {
        LedgerEvent accepted = new LedgerEvent(LedgerEvent.Kind.ACCEPTED, envelope.getId(), null, 0,
                Instant.ofEpochMilli(exchange.getClock().getCreated()), null, null, true, null,
                acceptedMessage(exchange, envelope));
        org.mas.broker.BeforeCommit beforeCommit = exchange.getProperty(MasNames.PROPERTY_BEFORE_COMMIT,
                org.mas.broker.BeforeCommit.class);
        if (beforeCommit == null) {
            ledger.writeAhead(List.of(accepted, queued));
        } else {
            List<LedgerEvent> batch = beforeCommit.once(this, java.util.ArrayList::new, ledger::writeAhead);
            batch.add(accepted);
            batch.add(queued);
        }
    }

    /** A 2xx answer from an external system's endpoint: its copy is acknowledged. */
    public void acknowledgedByHttp(Exchange exchange) {
        Envelope envelope = envelope(exchange);
        steps.publish(new LedgerEvent(LedgerEvent.Kind.ACKED, envelope.getId(), recipient(exchange), AttemptCounter.attempts(exchange),
                Instant.now(), "HTTP " + exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE), "http",
                envelope.isRequiresAck(), null, null));
    }

    /** Before a redelivery of a failed step (called by {@link AttemptCounter}); true at once, so never deferred. */
    public void retrying(Exchange exchange, int attempt) {
        Envelope envelope = envelope(exchange);
        if (envelope == null) {
            return;
        }
        Exception cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        steps.publish(new LedgerEvent(LedgerEvent.Kind.RETRYING, envelope.getId(), recipient(exchange), attempt,
                Instant.now(), cause == null ? null : cause.getMessage(), null, envelope.isRequiresAck(), null, null));
    }

    /** After the send to mas.dlq. */
    public void deadLettered(Exchange exchange) {
        Envelope envelope = envelope(exchange);
        if (envelope == null) {
            return; // failed before it was accepted: nothing to record against
        }
        exchange.setProperty(MasNames.PROPERTY_DEAD_LETTERED, true);
        record(exchange, new LedgerEvent(LedgerEvent.Kind.DEAD_LETTERED, envelope.getId(), recipient(exchange),
                AttemptCounter.attempts(exchange), Instant.now(),
                exchange.getIn().getHeader(MasNames.HEADER_ERROR, String.class), null, envelope.isRequiresAck(), null, null));
    }

    private static LedgerEvent.AcceptedMessage acceptedMessage(Exchange exchange, Envelope envelope) {
        return new LedgerEvent.AcceptedMessage(envelope.getFromAgent(), envelope.getMessageType(), envelope.getPriority(),
                envelope.isRequiresAck(), envelope.getCorrelationId(),
                exchange.getIn().getHeader(MasNames.HEADER_INGRESS, String.class), envelope.toJson(),
                exchange.getIn().getHeader("JMSExpiration", 0L, Long.class),
                Instant.ofEpochMilli(exchange.getClock().getCreated()),
                exchange.getProperty(MasNames.PROPERTY_REPLAY) == null ? envelope.getFingerprint() : null,
                envelope.getConversationId());
    }

    /**
     * A message that expired before it was consumed, from the broker's expiry address mas.expired.ledger: recorded,
     * and readied to go on, body and properties as they were, to mas.expired.
     */
    public void expired(Exchange exchange) throws jakarta.jms.JMSException {
        jakarta.jms.Message message = exchange.getIn().getBody(jakarta.jms.Message.class);
        org.apache.camel.Message in = exchange.getIn();
        in.removeHeaders("*");
        for (Object name : java.util.Collections.list(message.getPropertyNames())) {
            String property = name.toString();
            if (!property.startsWith("JMS") && !org.mas.broker.queues.CaseInsensitiveHeaderFilterStrategy.isCamelHeader(property)) {
                in.setHeader(property, message.getObjectProperty(property));
            }
        }
        in.setHeader("JMSExpiration", 0L);
        // consumed and moved on in one transaction, so no duplicate id is needed; the copy's own (one per queue) would
        // make Artemis roll this transaction back, again and again, once two messages with that id expired
        in.removeHeader(MasNames.HEADER_DUPLICATE_ID);
        if (message instanceof jakarta.jms.TextMessage text) {
            in.setBody(text.getText());
        } else if (message instanceof jakarta.jms.BytesMessage bytes) {
            byte[] body = new byte[(int) bytes.getBodyLength()];
            bytes.readBytes(body);
            in.setBody(body);
        } else {
            in.setBody(""); // never deserialized
        }
        String id = message.getStringProperty(MasNames.HEADER_ID);
        String origin = message.getStringProperty("_AMQ_ORIG_ADDRESS");
        if (!MasNames.isMessageId(id)) {
            return; // not one of the broker's messages (no id, or one the broker never gives): it only moves on
        }
        steps.publish(new LedgerEvent(LedgerEvent.Kind.EXPIRED, id, MasNames.queueRecipient(origin), 0, Instant.now(),
                "expired on " + origin, null, message.propertyExists(MasNames.HEADER_REQUIRES_ACK)
                && message.getBooleanProperty(MasNames.HEADER_REQUIRES_ACK), null, null));
    }

    /**
     * Steps are held on the exchange and published only once the message is the broker's for good (see
     * {@link #whenAccepted}); a refused attempt (a 503 after some copies were queued, a rollback) leaves no record, so
     * its retry is not taken for the message it never became.
     */
    private void record(Exchange exchange, LedgerEvent event) {
        Deferred deferred = exchange.getProperty(PROPERTY_DEFERRED, Deferred.class);
        if (deferred == null) {
            Deferred held = new Deferred();
            deferred = held;
            exchange.setProperty(PROPERTY_DEFERRED, held);
            whenAccepted(exchange, () -> held.publish(steps), () -> { });
        }
        if (deferred.published.get()) {
            steps.publish(event); // after the answer's publication: nothing to hold it for
        } else {
            deferred.events.add(event);
        }
    }

    /**
     * Before the answer to every REST call leaves (routes/rest-configuration.yaml, onCompletion before the consumer):
     * the HTTP server sends the answer first and completes the exchange after, so a message accepted with 202 has its
     * steps published here rather than on completion. A status read after the 202 then finds them on this router at
     * once (a read flushes the ledger) and, with several routers, on any other, since this waits for the writer then.
     */
    public void beforeAnswer(Exchange exchange) {
        Deferred deferred = exchange.getProperty(PROPERTY_DEFERRED, Deferred.class);
        if (deferred != null && isAccepted(exchange)) {
            deferred.publish(steps);
        }
        beforeRestAnswer.run();
    }

    /** A message's steps held until it is accepted; published once, by whichever of the two paths comes first. */
    private static final class Deferred {
        final List<LedgerEvent> events = new CopyOnWriteArrayList<>();
        final java.util.concurrent.atomic.AtomicBoolean published = new java.util.concurrent.atomic.AtomicBoolean();

        boolean publish(DeliverySteps steps) {
            if (events.isEmpty() || !published.compareAndSet(false, true)) {
                return false;
            }
            steps.publishAll(events);
            return true;
        }
    }

    /**
     * Runs {@code accepted} once the exchange's message is the broker's for good, {@code refused} otherwise: a REST
     * request answered 202, a file moved to .done, anything else that completed without failing; a JMS batch's
     * exchange only after its transaction has committed (never, if it rolls back). The one definition of "accepted"
     * that the ledger and the idempotency check share.
     */
    static void whenAccepted(Exchange exchange, Runnable accepted, Runnable refused) {
        exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
            @Override
            @SuppressWarnings("unchecked")
            public void onComplete(Exchange done) {
                if (!isAccepted(done)) {
                    refused.run();
                    return;
                }
                java.util.function.Consumer<Runnable> afterCommit =
                        done.getProperty(MasNames.PROPERTY_AFTER_COMMIT, java.util.function.Consumer.class);
                if (afterCommit != null) {
                    afterCommit.accept(accepted);
                    java.util.function.Consumer<Runnable> afterRollback =
                            done.getProperty(MasNames.PROPERTY_AFTER_ROLLBACK, java.util.function.Consumer.class);
                    if (afterRollback != null) {
                        afterRollback.accept(refused); // the transaction did not commit after all
                    }
                } else {
                    accepted.run();
                }
            }

            @Override
            public void onFailure(Exchange failed) {
                refused.run();
            }
        });
    }

    private static boolean isAccepted(Exchange exchange) {
        if (exchange.isFailed() || exchange.isRollbackOnly()) {
            return false;
        }
        if (exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME) != null) { // a REST request
            return Integer.valueOf(202).equals(exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class));
        }
        Object fileOutcome = exchange.getProperty(MasNames.PROPERTY_FILE_OUTCOME);
        return fileOutcome == null || ".done".equals(fileOutcome);
    }

    private static Envelope envelope(Exchange exchange) {
        return exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
    }

    /** The recipient a step concerns (from mas_target), or null when it concerns the whole message. */
    private static String recipient(Exchange exchange) {
        return MasNames.queueRecipient(exchange.getIn().getHeader(MasNames.HEADER_TARGET, String.class));
    }
}
