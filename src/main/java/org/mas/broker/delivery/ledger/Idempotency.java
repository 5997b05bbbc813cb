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

    /**
     * What is known of one id: its fingerprint, whether its acceptance is final (else it is still in flight), and the
     * thread routing it while in flight.
     */
    private record Seen(String fingerprint, boolean accepted, long thread) {
        Seen(String fingerprint, boolean accepted) {
            this(fingerprint, accepted, 0);
        }
    }

    private final DeliveryLedger ledger;
    private final Map<String, Seen> recent = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Seen> eldest) {
            return size() > RECENT;
        }
    };
    private volatile long lastLookupWarning;
    /** Cluster mode: this router's name in the shared claims on ids; null on a single router (no claims). */
    private final String owner;
    private final java.time.Duration claimWait;
    private final org.mas.broker.RateLimitedLog claimFailures = new org.mas.broker.RateLimitedLog(LOG,
            "{} more id claims failed in the last minute (not logged one by one)");

    public Idempotency(DeliveryLedger ledger) {
        this(ledger, null, java.time.Duration.ofSeconds(16));
    }

    /**
     * @param owner     with several routers: this router's instance id, under which it claims the ids it routes
     * @param claimWait how long an id another attempt is routing (on this router or, claimed, on another) is waited
     *                  for before this one goes ahead (longer than a transaction can hang in a broker failover)
     */
    public Idempotency(DeliveryLedger ledger, String owner, java.time.Duration claimWait) {
        this.ledger = ledger;
        this.owner = owner;
        this.claimWait = claimWait;
    }

    /** A router that has not beaten for this long is gone: its claims are taken over at once. */
    private static final java.time.Duration OWNER_GONE = java.time.Duration.ofSeconds(5);

    /** What the shared claim on an id says (several routers). */
    private enum Claimed { OURS, TAKEN_OVER, DUPLICATE }

    /** Called once the envelope is valid; throws for an id reused with other content. */
    public void check(Exchange exchange) throws InvalidEnvelopeException {
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        if (exchange.getProperty(MasNames.PROPERTY_REPLAY) != null) {
            return;
        }
        String id = envelope.getId();
        String fingerprint = envelope.getFingerprint();
        if (exchange.getProperty(MasNames.PROPERTY_FRESH_ID, false, Boolean.class)) {
            // a random id given to this message just now: nothing has used it, so nothing is looked up or claimed;
            // once accepted it is remembered, for a sender that retries with the id it was answered
            LedgerRecorder.whenAccepted(exchange, () -> remember(id, fingerprint), () -> { });
            TransactedCopySender.markIfInBatch(exchange);
            return;
        }
        Seen seen = enter(id, fingerprint);
        if (seen != null && !seen.accepted() && seen.fingerprint().equals(fingerprint)) {
            if (seen.thread() == Thread.currentThread().getId()
                    && exchange.getProperty(MasNames.PROPERTY_BEFORE_COMMIT) != null) {
                // the same message twice in one transaction: this copy commits or rolls back with the first one
                exchange.setProperty(MasNames.PROPERTY_DUPLICATE, true);
                LOG.info("Message {} from {} came twice in one transaction: delivered once", id, envelope.getFromAgent());
                return;
            }
            // another attempt of the same message is being routed (a client sending again after a failover, a
            // redelivery): its outcome is waited for, so that the two are never routed at once
            seen = awaitInFlight(id, fingerprint);
        }
        if (seen == null) {
            seen = lookUp(id);
        }
        if (seen == null && owner != null) {
            Claimed claimed;
            try {
                claimed = claim(id, fingerprint);
            } catch (InvalidEnvelopeException reused) {
                forget(id, fingerprint); // this attempt is refused: it is no longer in flight
                throw reused;
            }
            if (claimed == Claimed.DUPLICATE) {
                remember(id, fingerprint); // accepted through another router: this attempt is not in flight
                seen = new Seen(fingerprint, true);
            } else if (claimed == Claimed.TAKEN_OVER) {
                // another attempt never finished (a router that died, a commit of unknown outcome): its copies may be
                // queued, so these go outside the transaction, where Artemis's duplicate ids drop them
                if (exchange.isTransacted()) {
                    exchange.setProperty(MasNames.PROPERTY_SENDER, JmsConnections.NON_TRANSACTED_COMPONENT);
                }
            }
        }
        if (seen == null) {
            whenAccepted(exchange, id, fingerprint);
        } else if (!fingerprint.equals(seen.fingerprint())) {
            throw reused(id);
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

    /** What is known of the id, or null when nothing is: then it is in flight here now, on this thread. */
    private Seen enter(String id, String fingerprint) {
        synchronized (recent) {
            Seen seen = recent.get(id);
            if (seen == null) {
                recent.put(id, new Seen(fingerprint, false, Thread.currentThread().getId())); // a concurrent copy sees this
            }
            return seen;
        }
    }

    /**
     * Waits (at most claimWait) for the attempt in flight with the same content to end: its acceptance (returned: a
     * duplicate), or its refusal (null: this attempt is in flight now); after the wait, the attempt still in flight.
     */
    private Seen awaitInFlight(String id, String fingerprint) {
        long giveUp = System.nanoTime() + claimWait.toNanos();
        while (true) {
            Seen seen = enter(id, fingerprint);
            if (seen == null || seen.accepted() || !seen.fingerprint().equals(fingerprint) || System.nanoTime() - giveUp > 0) {
                return seen;
            }
            try {
                Thread.sleep(20); // the other attempt takes one transaction's time
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return seen;
            }
        }
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
            throw reused(envelope.getId());
        }
        if (seen != null && seen.accepted()) {
            exchange.setProperty(MasNames.PROPERTY_DUPLICATE, true);
        }
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
        LedgerRecorder.whenAccepted(exchange, () -> remember(id, fingerprint), () -> {
            forget(id, fingerprint);
            release(id);
        });
    }

    /**
     * The shared claim on an id, with several routers: this router's now, or another's for the same content, which is
     * waited for (at most claimWait) until it is accepted (a duplicate) or released (then claimed here), or taken
     * over. Another's for other content: refused (409), as on one router. If the claims cannot be read the message is
     * routed as if claimed: Artemis's duplicate ids still drop a copy sent twice to one queue.
     */
    private Claimed claim(String id, String fingerprint) throws InvalidEnvelopeException {
        long giveUp = System.nanoTime() + claimWait.toNanos();
        try {
            while (true) {
                Optional<DeliveryLedger.Claim> other = ledger.claim(id, fingerprint, owner);
                if (other.isEmpty()) {
                    return Claimed.OURS;
                }
                if (!other.get().fingerprint().equals(fingerprint)) {
                    throw reused(id);
                }
                Optional<DeliveryLedger.Accepted> accepted = ledger.accepted(id);
                if (accepted.isPresent()) {
                    return Claimed.DUPLICATE;
                }
                boolean gone = !other.get().owner().equals(owner) && !ledger.alive(other.get().owner(), OWNER_GONE);
                if (other.get().owner().equals(owner) || gone || System.nanoTime() - giveUp > 0) {
                    if (other.get().owner().equals(owner) || ledger.takeOverClaim(id, other.get().owner(), owner)) {
                        LOG.info("Message {} was claimed by {}, whose attempt did not finish{}: routed here", id,
                                other.get().owner(), gone ? " (it has stopped)" : "");
                        return Claimed.TAKEN_OVER;
                    }
                    continue; // it changed hands meanwhile
                }
                Thread.sleep(50); // the other router's attempt takes a transaction's time
            }
        } catch (SQLException | RuntimeException e) {
            claimFailures.warn("Message {} routed without a claim on its id (the ledger cannot be written: {}); Artemis's "
                    + "duplicate detection still drops a copy sent twice to the same queue", id, e.toString());
            return Claimed.OURS;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Claimed.OURS;
        }
    }

    private void release(String id) {
        if (owner == null) {
            return;
        }
        try {
            ledger.releaseClaim(id, owner);
        } catch (SQLException | RuntimeException e) {
            claimFailures.warn("The claim on message {} could not be released (it ends with the ledger's retention): {}",
                    id, e.toString());
        }
    }

    private static InvalidEnvelopeException reused(String id) {
        return new InvalidEnvelopeException("id '" + id + "' was already used for a different message", 409,
                java.util.List.of("$.id: the same id with different content is refused; give a new message a new id"));
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
