package org.mas.broker.delivery.ledger;

import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.DeliveryPreparer;
import org.mas.broker.delivery.TransactedCopySender;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.InvalidEnvelopeException;
import org.mas.broker.queues.JmsConnections;

/**
 * A message id is an idempotency key (contract section 1). After validation, each message is compared with what was
 * accepted before under its id: the same id with the same content (fingerprint) is the same message, not delivered
 * again (REST answers 202 as the first time; JMS and files drop it, logged and counted); the same id with different
 * content is refused (REST 409, JMS {@code mas.invalid}, files {@code .error}). Ids are looked up in a bounded map of
 * recent and in-flight ids, then in the ledger. A replay is not checked: it is the same message on purpose.
 * Bean name {@code idempotency}.
 */
public class Idempotency {

    /** Ids remembered in memory, in flight or accepted (as many as Artemis's duplicate-id cache keeps per address). */
    static final int RECENT = 20_000;

    private static final Logger LOG = LoggerFactory.getLogger(Idempotency.class);

    /** What is known of one id: its fingerprint, and whether its acceptance is final (else it is still in flight). */
    private record Seen(String fingerprint, boolean accepted) {
    }

    private final DeliveryLedger ledger;
    private final Map<String, Seen> recent = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Seen> eldest) {
            return size() > RECENT;
        }
    };
    private volatile long lastLookupWarning;

    public Idempotency(DeliveryLedger ledger) {
        this.ledger = ledger;
    }

    /** Called once the envelope is valid; throws for an id reused with other content. */
    public void check(Exchange exchange) throws InvalidEnvelopeException {
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        if (exchange.getProperty(MasNames.PROPERTY_REPLAY) != null) {
            return;
        }
        String id = envelope.getId();
        String fingerprint = envelope.getFingerprint();
        Seen seen;
        synchronized (recent) {
            seen = recent.get(id);
            if (seen == null) {
                recent.put(id, new Seen(fingerprint, false)); // in flight: a concurrent copy of it sees this
            }
        }
        if (seen == null) {
            seen = lookUp(id);
        }
        if (seen == null) {
            whenAccepted(exchange, id, fingerprint);
        } else if (!fingerprint.equals(seen.fingerprint())) {
            throw conflict(id);
        } else if (seen.accepted()) {
            exchange.setProperty(MasNames.PROPERTY_DUPLICATE, true);
            LOG.info("Message {} from {} was accepted before with the same content: not delivered again", id,
                    envelope.getFromAgent());
            return;
        } else {
            // the same message still in flight (an agent re-sending at once, or the redelivery of a rolled-back
            // attempt): sent outside the consuming transaction, where Artemis's duplicate detection drops what another
            // attempt queued instead of rolling this transaction back; once this attempt is accepted, so is the id
            if (exchange.isTransacted()) {
                exchange.setProperty(MasNames.PROPERTY_SENDER, JmsConnections.NON_TRANSACTED_COMPONENT);
            }
            LedgerRecorder.whenAccepted(exchange, () -> remember(id, fingerprint), () -> { });
        }
        TransactedCopySender.markIfInBatch(exchange);
    }

    /**
     * The verdict of {@link #check} without its effects, for the routing dry-run: throws for an id reused with other
     * content, marks a message accepted before with the same content as a duplicate; remembers nothing (no in-flight
     * entry, nothing cached from the ledger).
     */
    public void peek(Exchange exchange) throws InvalidEnvelopeException {
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        Seen seen;
        synchronized (recent) {
            seen = recent.get(envelope.getId());
        }
        if (seen == null) {
            seen = stored(envelope.getId());
        }
        if (seen != null && !envelope.getFingerprint().equals(seen.fingerprint())) {
            throw conflict(envelope.getId());
        }
        if (seen != null && seen.accepted()) {
            exchange.setProperty(MasNames.PROPERTY_DUPLICATE, true);
        }
    }

    private static InvalidEnvelopeException conflict(String id) {
        return new InvalidEnvelopeException("id '" + id + "' was already used for a different message", 409,
                java.util.List.of("$.id: the same id with different content is refused; give a new message a new id"));
    }

    /** Null if the ledger has no acceptance of this id (or cannot be asked: Artemis's duplicate ids still hold). */
    private Seen lookUp(String id) {
        Seen seen = stored(id);
        if (seen != null) {
            synchronized (recent) {
                recent.put(id, seen);
            }
        }
        return seen;
    }

    /** The ledger's acceptance of this id, not cached; null if none, or if the ledger cannot be read (logged). */
    private Seen stored(String id) {
        Optional<DeliveryLedger.Accepted> accepted;
        try {
            accepted = ledger.accepted(id);
        } catch (SQLException | RuntimeException e) {
            long now = System.nanoTime();
            if (now - lastLookupWarning > 60_000_000_000L) {
                lastLookupWarning = now;
                LOG.warn("Idempotency check without the ledger (it cannot be read: {}); Artemis's duplicate detection "
                        + "still drops a copy sent twice to the same queue", e.toString());
            }
            return null;
        }
        if (accepted.isEmpty()) {
            return null;
        }
        // an acceptance recorded before fingerprints were: its content cannot be compared, so it counts as different
        return new Seen(accepted.get().fingerprint() == null ? "" : accepted.get().fingerprint(), true);
    }

    /** Once the message is the broker's for good (committed, answered 202, file done): accepted; else forgotten. */
    private void whenAccepted(Exchange exchange, String id, String fingerprint) {
        LedgerRecorder.whenAccepted(exchange, () -> remember(id, fingerprint), () -> forget(id, fingerprint));
    }

    private void remember(String id, String fingerprint) {
        synchronized (recent) {
            recent.put(id, new Seen(fingerprint, true));
        }
    }

    private void forget(String id, String fingerprint) {
        synchronized (recent) {
            Seen seen = recent.get(id);
            if (seen != null && !seen.accepted() && seen.fingerprint().equals(fingerprint)) {
                recent.remove(id);
            }
        }
    }
}
