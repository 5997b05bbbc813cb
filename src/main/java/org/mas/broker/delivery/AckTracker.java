package org.mas.broker.delivery;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.DeliverySteps;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.delivery.ledger.LedgerEvent.Kind;
import org.mas.broker.identity.CapabilityDirectory;

/**
 * Follows every copy of a {@code requires_ack} message until its recipient acknowledges it. No acknowledgment within
 * ack_timeout, or a {@code failed} one, sends the copy again after an exponential back-off, at most retry_count times;
 * then, or at once for {@code rejected}, the message goes to mas.dlq. A copy whose message expired is recorded
 * {@code expired} at its deadline instead. The working set is in memory and rebuilt from the ledger at start-up; each
 * entry leaves within ack_timeout x (retry_count + 1) plus the back-offs.
 * <p>
 * Locking is per copy: a send (again, or to mas.dlq) holds only its own copy's monitor, so it never delays the
 * acknowledgment of another copy. An acknowledgment for a copy the tracker does not follow never waits for other
 * messages' steps: the ledger says whether this message still has steps on their way to the database.
 * <p>
 * A copy sent to a capability (recipient "capability:&lt;name&gt;") is acknowledged by whichever agent offering it
 * took it: an acknowledgment by agent w of message m applies to m's copy for w if there is one, else to m's copy for a
 * capability w offers. Its steps name w as their actor.
 */
public class AckTracker extends ServiceSupport implements AckDeadlines {

    private enum State { AWAITING_ACK, WAITING_TO_RESEND }

    private static final class Copy {
        final String messageId;
        final String agent;
        final String envelope;
        final Map<String, Object> headers;
        final Instant acceptedAt;
        /** JMSExpiration of the message, epoch ms; 0 = never. */
        final long expiresAt;
        // guarded by this copy's monitor; due is also read without it by the scan, to skip copies not yet due
        int sends;
        State state = State.AWAITING_ACK;
        volatile Instant due;
        /** The status it was left in once no longer followed; null while followed. */
        volatile String finished;

        Copy(String messageId, String agent, String envelope, Map<String, Object> headers, Instant acceptedAt,
             long expiresAt, int sends, Instant due) {
            this.messageId = messageId;
            this.agent = agent;
            this.envelope = envelope;
            this.headers = headers;
            this.acceptedAt = acceptedAt;
            this.expiresAt = expiresAt;
            this.sends = sends;
            this.due = due;
        }
    }

    /** An acknowledgment for a copy whose "queued" step has not reached the tracker (yet). */
    private record EarlyAck(String key, String messageId, String agent, String status, String detail, long heldUntilNanos,
                            Result ifNoCopy, Consumer<Result> outcome) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(AckTracker.class);
    /** How long an acknowledgment waits for its message's steps to reach the database (only for that message). */
    private static final Duration LEDGER_WAIT = Duration.ofSeconds(5);

    private final CamelContext context;
    private final DeliveryLedger ledger;
    private final DeliverySteps steps;
    private final CapabilityDirectory capabilities;
    private final Duration ackTimeout;
    private final CopySends sends;
    private final Duration scanInterval;
    private final Duration earlyHold;
    private final int maxEarlyAcks;
    private final Map<String, Copy> copies = new ConcurrentHashMap<>();
    /** Held early acknowledgments, oldest first (all are held equally long); guarded by itself, no I/O under it. */
    private final LinkedHashMap<String, EarlyAck> earlyAcks = new LinkedHashMap<>();
    /** The same, by message id: a capability copy's step finds the acknowledgment held under its agent. */
    private final Map<String, List<EarlyAck>> earlyAcksByMessage = new HashMap<>();
    /** Messages whose acknowledgment is being looked up now (see {@link CapabilitySteps}). */
    private final Map<String, CapabilitySteps> acksInFlight = new ConcurrentHashMap<>();
    private volatile int earlyCount;
    private final java.util.function.Consumer<Duration> latency;
    private ProducerTemplate producer;
    private ScheduledExecutorService scanner;

    /**
     * @param earlyHold    how long an acknowledgment for a copy not yet known is held for its "queued" step
     * @param maxEarlyAcks at most this many are held; beyond, the oldest is answered as it stands
     */
    public AckTracker(CamelContext context, DeliveryLedger ledger, DeliverySteps steps, CapabilityDirectory capabilities,
                      Duration ackTimeout, int retryCount,
                      long initialDelayMs, double multiplier, long maxDelayMs, Duration scanInterval,
                      Duration earlyHold, int maxEarlyAcks, java.util.function.Consumer<Duration> ackedLatency) {
        this.context = context;
        this.ledger = ledger;
        this.steps = steps;
        this.capabilities = capabilities;
        this.ackTimeout = ackTimeout;
        this.sends = new CopySends(retryCount, initialDelayMs, multiplier, maxDelayMs);
        this.scanInterval = scanInterval;
        this.earlyHold = earlyHold;
        this.maxEarlyAcks = maxEarlyAcks;
        this.latency = ackedLatency;
    }

    private static String key(String messageId, String agent) {
        return messageId + '\u0000' + agent;
    }

    /** Follows the copies that need an acknowledgment (a transacted copy's step comes after its commit). */
    @Override
    public void onStep(LedgerEvent event) {
        if (event.recipient() == null) {
            return;
        }
        String key = key(event.messageId(), event.recipient());
        boolean finished = event.kind() == Kind.EXPIRED || event.kind() == Kind.ACKED || event.kind() == Kind.DEAD_LETTERED;
        if (finished) {
            Copy gone = copies.remove(key); // expired, acknowledged (e.g. by HTTP), parked
            if (gone != null && gone.finished == null) {
                gone.finished = event.kind().label;
            }
        }
        if (event.kind() != Kind.QUEUED) {
            return;
        }
        Copy copy = null;
        if (event.requiresAck() && event.message() != null) {
            LedgerEvent.AcceptedMessage m = event.message();
            Copy queued = new Copy(event.messageId(), event.recipient(), m.envelope(), headers(event.messageId(), m),
                    m.acceptedAt(), m.expiresAt(), event.attempt(), event.ackDeadline());
            Copy known = copies.putIfAbsent(key, queued);
            copy = known == null ? queued : known;
        }
        String capability = MasNames.capabilityOf(event.recipient());
        if (capability != null) {
            CapabilitySteps inFlight = acksInFlight.get(event.messageId());
            if (inFlight != null) {
                inFlight.recipients.add(event.recipient()); // before looking for held acknowledgments: see hold()
            }
        }
        EarlyAck early = takeEarlyAck(key);
        if (early == null && capability != null) {
            early = takeEarlyAckOffering(event.messageId(), capability); // held under the agent that took the copy
        }
        if (early != null) {
            EarlyAck held = early;
            Copy target = copy;
            // not on the recording thread (a consumer's, after its commit): the tracker's own
            run(() -> resolve(held, target));
        }
    }

    private static Map<String, Object> headers(String id, LedgerEvent.AcceptedMessage m) {
        return CopySends.headers(id, m);
    }

    /**
     * An acknowledgment by REST: answered now. It waits (at most the hold) only if the message exists, was accepted
     * within the hold and has no copy for this agent yet: its "queued" step may be about to be recorded.
     */
    @Override
    public Result acknowledge(String messageId, String agent, String status, String detail) throws Exception {
        return acknowledge(messageId, agent, status, detail, null);
    }

    @Override
    public Result acknowledge(String messageId, String agent, String status, String detail, Consumer<Result> later)
            throws Exception {
        if (MasNames.capabilityOf(agent) != null) {
            return new Result(Outcome.NOT_A_RECIPIENT, null); // a capability is acknowledged by an agent, as itself
        }
        String key = key(messageId, agent);
        Copy copy = copies.get(key);
        if (copy != null) {
            return seen(messageId, agent, applyTo(copy, agent, status, detail));
        }
        CompletableFuture<Result> outcome = new CompletableFuture<>();
        Result held;
        CapabilitySteps inFlight = announce(messageId);
        try {
            Result untracked = notTracked(messageId, agent, status, detail);
            if (untracked.outcome() != Outcome.UNKNOWN_MESSAGE && untracked.outcome() != Outcome.NOT_A_RECIPIENT) {
                return seen(messageId, agent, untracked);
            }
            if (later != null) {
                return hold(key, messageId, agent, status, detail, untracked, later, inFlight);
            }
            if (untracked.outcome() == Outcome.UNKNOWN_MESSAGE) {
                return untracked; // answered now: a REST caller can ask again
            }
            held = hold(key, messageId, agent, status, detail, untracked, outcome::complete, inFlight);
        } finally {
            withdraw(messageId);
        }
        if (held.outcome() != Outcome.HELD) {
            return held;
        }
        try {
            return outcome.get(earlyHold.plus(scanInterval).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            EarlyAck early = takeEarlyAck(key); // the scan did not get to it yet
            if (early != null) {
                early.outcome().accept(early.ifNoCopy());
            }
            return outcome.get(LEDGER_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private Result seen(String messageId, String agent, Result result) {
        if (result.outcome() == Outcome.APPLIED || result.outcome() == Outcome.ALREADY_FINAL) {
            // a recipient that answers is alive: its queue is not idle
            steps.publish(new LedgerEvent(Kind.AGENT_SEEN, messageId, agent, 0, Instant.now(), null, null, false, null, null));
        }
        return result;
    }

    private Result applyTo(Copy copy, String agent, String status, String detail) {
        synchronized (copy) {
            if (copy.finished != null) {
                return new Result(Outcome.ALREADY_FINAL, copy.finished);
            }
            return apply(copy, agent, status, detail);
        }
    }

    /** Called with the copy's monitor held. The dead-letter send comes first: if it fails, the copy stays followed. */
    private Result apply(Copy copy, String agent, String status, String detail) {
        switch (status) {
            case "processed" -> {
                finish(copy, "acked");
                record(Kind.ACKED, copy, copy.sends, null, detail, agent);
                if (copy.acceptedAt != null) {
                    latency.accept(Duration.between(copy.acceptedAt, Instant.now()));
                }
                return new Result(Outcome.APPLIED, "acked");
            }
            case "rejected" -> {
                String reason = "rejected by " + agent + (detail == null ? "" : ": " + detail);
                sendDeadLetter(copy, reason);
                finish(copy, "dead_lettered");
                record(Kind.REJECTED, copy, copy.sends, null, detail, agent);
                recordDeadLettered(copy, reason);
                return new Result(Outcome.APPLIED, "dead_lettered");
            }
            default -> { // failed
                if (copy.state == State.WAITING_TO_RESEND) {
                    return new Result(Outcome.ALREADY_FINAL, "retrying"); // this send already failed
                }
                record(Kind.FAILED, copy, copy.sends, null, detail, agent);
                return new Result(Outcome.APPLIED, retryOrDeadLetter(copy, "failed by " + agent
                        + (detail == null ? "" : ": " + detail)));
            }
        }
    }

    private void finish(Copy copy, String status) {
        copy.finished = status;
        copies.remove(key(copy.messageId, copy.agent), copy);
    }

    /**
     * What the ledger says of a copy the tracker does not follow. Waits only for this message's own steps still on
     * their way to the database, never for a flush of everything. UNKNOWN_MESSAGE, or NOT_A_RECIPIENT with the
     * message's accepted_at as status, when it has no copy for this agent nor for a capability the agent offers.
     */
    private Result notTracked(String messageId, String agent, String status, String detail) throws Exception {
        if (!ledger.awaitWritten(messageId, LEDGER_WAIT)) {
            throw new IllegalStateException("the delivery ledger is behind; try the acknowledgment again");
        }
        String recipient = agent;
        Optional<String> current = ledger.storedDeliveryStatus(messageId, agent);
        Copy copy = copies.get(key(messageId, agent)); // recorded meanwhile
        if (copy == null && current.isEmpty()) {
            Optional<String> offered = capabilityRecipient(messageId, agent);
            if (offered.isPresent()) {
                recipient = offered.get();
                current = ledger.storedDeliveryStatus(messageId, recipient);
                copy = copies.get(key(messageId, recipient));
            }
        }
        if (copy != null) {
            return applyTo(copy, agent, status, detail);
        }
        if (current.isEmpty()) {
            Optional<DeliveryLedger.StoredMessage> message = ledger.storedMessage(messageId);
            return message.isPresent() ? new Result(Outcome.NOT_A_RECIPIENT, message.get().acceptedAt().toString())
                    : new Result(Outcome.UNKNOWN_MESSAGE, null);
        }
        if (current.get().equals("queued") && status.equals("processed")) {
            // a copy that needed no acknowledgment: record the one that came anyway
            steps.publish(new LedgerEvent(Kind.ACKED, messageId, recipient, 0, Instant.now(), detail, agent, false, null, null));
            return new Result(Outcome.APPLIED, "acked");
        }
        return new Result(Outcome.ALREADY_FINAL, current.get());
    }

    /** The message's copy for a capability this agent offers ("capability:&lt;name&gt;"), as stored; empty if none. */
    private Optional<String> capabilityRecipient(String messageId, String agent) throws Exception {
        for (String recipient : ledger.storedRecipients(messageId)) {
            String capability = MasNames.capabilityOf(recipient);
            if (capability != null && capabilities.offers(agent, capability)) {
                return Optional.of(recipient);
            }
        }
        return Optional.empty();
    }

    /**
     * Holds an acknowledgment whose copy is not recorded yet, without waiting: a copy consumed in a JMS batch is
     * recorded only after its transaction commits, and a REST send records its copy after the send returns, so its
     * recipient can answer first. One for a message accepted longer than the hold ago is answered at once.
     */
    private Result hold(String key, String messageId, String agent, String status, String detail, Result ifNoCopy,
                        Consumer<Result> later, CapabilitySteps inFlight) throws Exception {
        Result plain = new Result(ifNoCopy.outcome(), null);
        if (ifNoCopy.status() != null && Instant.parse(ifNoCopy.status()).plus(earlyHold).isBefore(Instant.now())) {
            return plain;
        }
        EarlyAck early = new EarlyAck(key, messageId, agent, status, detail, System.nanoTime() + earlyHold.toNanos(),
                plain, later);
        List<EarlyAck> evicted = new ArrayList<>();
        synchronized (earlyAcks) {
            if (earlyAcks.containsKey(key)) {
                return plain; // one is held for this copy already
            }
            earlyAcks.put(key, early);
            earlyAcksByMessage.computeIfAbsent(messageId, id -> new ArrayList<>(1)).add(early);
            for (Iterator<EarlyAck> it = earlyAcks.values().iterator(); earlyAcks.size() > maxEarlyAcks && it.hasNext();) {
                EarlyAck oldest = it.next();
                it.remove();
                forgetByMessage(oldest);
                evicted.add(oldest);
            }
            earlyCount = earlyAcks.size();
        }
        evicted.forEach(e -> e.outcome().accept(e.ifNoCopy()));
        // its step may have come between notTracked and the put: the listener did not see it held then
        Copy copy = copies.get(key);
        if (copy != null && takeEarlyAck(key) == early) {
            return seen(messageId, agent, applyTo(copy, agent, status, detail));
        }
        // the same for a copy of a capability this agent offers (announced before the lookup, so none is missed)
        for (String recipient : inFlight.recipients) {
            if (capabilities.offers(agent, MasNames.capabilityOf(recipient)) && takeEarlyAck(key) == early) {
                Copy offered = copies.get(key(messageId, recipient));
                run(() -> resolve(early, offered));
                break;
            }
        }
        return new Result(Outcome.HELD, null);
    }

    /**
     * The capability copies of one message whose "queued" step came while an acknowledgment of that message was being
     * looked up: such a step may pass before the acknowledgment is held under its agent's key, which the step cannot
     * know (the copy's recipient is the capability).
     */
    private static final class CapabilitySteps {
        int lookups; // guarded by the map's compute
        final java.util.Set<String> recipients = ConcurrentHashMap.newKeySet();
    }

    /** Before an acknowledgment's lookup in the ledger; {@link #withdraw} after it is applied or held. */
    private CapabilitySteps announce(String messageId) {
        return acksInFlight.compute(messageId, (id, steps) -> {
            CapabilitySteps in = steps == null ? new CapabilitySteps() : steps;
            in.lookups++;
            return in;
        });
    }

    private void withdraw(String messageId) {
        acksInFlight.computeIfPresent(messageId, (id, steps) -> --steps.lookups == 0 ? null : steps);
    }

    private EarlyAck takeEarlyAck(String key) {
        if (earlyCount == 0) {
            return null;
        }
        synchronized (earlyAcks) {
            EarlyAck early = earlyAcks.remove(key);
            if (early != null) {
                forgetByMessage(early);
            }
            earlyCount = earlyAcks.size();
            return early;
        }
    }

    /** A held acknowledgment of this message by an agent that offers the capability, taken; null if none. */
    private EarlyAck takeEarlyAckOffering(String messageId, String capability) {
        if (earlyCount == 0) {
            return null;
        }
        synchronized (earlyAcks) {
            List<EarlyAck> held = earlyAcksByMessage.get(messageId);
            if (held == null) {
                return null;
            }
            for (EarlyAck early : held) {
                if (capabilities.offers(early.agent(), capability)) {
                    earlyAcks.remove(early.key());
                    forgetByMessage(early);
                    earlyCount = earlyAcks.size();
                    return early;
                }
            }
            return null;
        }
    }

    /** Called with the earlyAcks monitor held. */
    private void forgetByMessage(EarlyAck early) {
        List<EarlyAck> held = earlyAcksByMessage.get(early.messageId());
        if (held != null && held.remove(early) && held.isEmpty()) {
            earlyAcksByMessage.remove(early.messageId());
        }
    }

    /** A held acknowledgment whose "queued" step came: {@code copy} is null for a copy that needs no ack. */
    private void resolve(EarlyAck early, Copy copy) {
        Result result;
        try {
            result = seen(early.messageId(), early.agent(), copy != null
                    ? applyTo(copy, early.agent(), early.status(), early.detail())
                    : notTracked(early.messageId(), early.agent(), early.status(), early.detail()));
        } catch (Exception e) {
            LOG.warn("Acknowledgment of {} by {} could not be applied: {}", early.messageId(), early.agent(), e.toString());
            result = new Result(Outcome.ALREADY_FINAL, null);
        }
        early.outcome().accept(result);
    }

    /** Held acknowledgments whose hold ended: answered as they stood. */
    private void expireEarlyAcks() {
        List<EarlyAck> expired = new ArrayList<>();
        long now = System.nanoTime();
        synchronized (earlyAcks) {
            for (Iterator<EarlyAck> it = earlyAcks.values().iterator(); it.hasNext();) {
                EarlyAck early = it.next();
                if (early.heldUntilNanos() - now > 0) {
                    break; // all are held equally long: the rest are younger
                }
                expired.add(early);
                it.remove();
                forgetByMessage(early);
            }
            earlyCount = earlyAcks.size();
        }
        expired.forEach(e -> e.outcome().accept(e.ifNoCopy()));
    }

    private void run(Runnable task) {
        ScheduledExecutorService executor = scanner;
        try {
            if (executor != null) {
                executor.execute(task);
                return;
            }
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // stopped: here, then
        }
        task.run();
    }

    /** @return the status the copy is left in; called with the copy's monitor held */
    private String retryOrDeadLetter(Copy copy, String reason) {
        if (sends.exhausted(copy.sends)) {
            sendDeadLetter(copy, reason);
            finish(copy, "dead_lettered");
            recordDeadLettered(copy, reason);
            return "dead_lettered";
        }
        long delay = sends.delayMs(copy.sends);
        copy.state = State.WAITING_TO_RESEND;
        copy.due = Instant.now().plusMillis(delay);
        record(Kind.RETRYING, copy, copy.sends + 1, copy.due, reason, null);
        return "retrying";
    }

    /** No lock but each due copy's own, one at a time: acknowledgments of all other copies go on meanwhile. */
    void scan() {
        for (Copy copy : copies.values()) {
            Instant due = copy.due;
            if (due == null || due.isAfter(Instant.now())) {
                continue;
            }
            synchronized (copy) {
                if (copy.finished != null) {
                    continue;
                }
                try {
                    if (copy.expiresAt > 0 && copy.expiresAt <= System.currentTimeMillis()) {
                        // a send again would expire at once: nothing left to wait for
                        finish(copy, "expired");
                        record(Kind.EXPIRED, copy, copy.sends, null, "expired while waiting for an acknowledgment", null);
                    } else if (copy.state == State.AWAITING_ACK) {
                        retryOrDeadLetter(copy, "no acknowledgment within " + ackTimeout.toSeconds() + " s");
                    } else {
                        resend(copy);
                    }
                } catch (RuntimeException e) {
                    LOG.warn("Acknowledgment handling of {} for {} failed, trying again: {}", copy.messageId, copy.agent, e.toString());
                }
            }
        }
        expireEarlyAcks();
    }

    /** Called with the copy's monitor held. */
    private void resend(Copy copy) {
        int send = copy.sends + 1;
        // a resend after a crash is dropped; a replayed message (accepted again) has resends of its own
        CopySends.resend(producer, copy.messageId, copy.agent, copy.envelope, copy.headers, send, generation(copy));
        copy.sends = send;
        copy.state = State.AWAITING_ACK;
        copy.due = Instant.now().plus(ackTimeout);
        record(Kind.QUEUED, copy, send, copy.due, null, null);
    }

    /** Called with the copy's monitor held (only). */
    private void sendDeadLetter(Copy copy, String reason) {
        CopySends.deadLetter(producer, copy.messageId, copy.agent, copy.envelope, copy.headers, reason, copy.sends,
                generation(copy));
    }

    /** When the message was (last) accepted: a replay starts a new generation of sends and dead letters. */
    private static long generation(Copy copy) {
        return copy.acceptedAt == null ? 0 : copy.acceptedAt.toEpochMilli();
    }

    private void recordDeadLettered(Copy copy, String reason) {
        record(Kind.DEAD_LETTERED, copy, copy.sends, null, reason, null);
        LOG.warn("Dead-lettered message {} for {} after {} send(s): {}", copy.messageId, copy.agent, copy.sends, reason);
    }

    private void record(Kind kind, Copy copy, int attempt, Instant deadline, String detail, String actor) {
        steps.publish(new LedgerEvent(kind, copy.messageId, copy.agent, attempt, Instant.now(), detail, actor, true,
                deadline, null));
    }

    @Override
    protected void doStart() throws Exception {
        producer = context.createProducerTemplate();
        resumeFromLedger();
        scanner = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "ack-tracker");
        long period = scanInterval.toMillis();
        scanner.scheduleWithFixedDelay(this::scan, period, period, TimeUnit.MILLISECONDS);
    }

    /** Picks up, after a restart, every copy the ledger says still waits for an acknowledgment or a resend. */
    private void resumeFromLedger() throws Exception {
        int resumed = 0;
        for (DeliveryLedger.AwaitingAck awaiting : ledger.awaitingAcks()) {
            Optional<DeliveryLedger.StoredMessage> stored = ledger.storedMessage(awaiting.messageId());
            if (stored.isEmpty()) {
                continue;
            }
            LedgerEvent.AcceptedMessage m = CopySends.accepted(stored.get());
            Copy copy = new Copy(awaiting.messageId(), awaiting.agent(), m.envelope(), headers(awaiting.messageId(), m),
                    m.acceptedAt(), m.expiresAt(), Math.max(1, awaiting.attempts()), awaiting.deadline());
            if (!awaiting.status().equals("queued")) {
                copy.state = State.WAITING_TO_RESEND;
                copy.sends = Math.max(1, awaiting.attempts() - 1);
            }
            copies.putIfAbsent(key(copy.messageId, copy.agent), copy);
            resumed++;
        }
        if (resumed > 0) {
            LOG.info("Resumed {} copies waiting for an acknowledgment", resumed);
        }
    }

    @Override
    protected void doStop() throws Exception {
        if (scanner != null) {
            context.getExecutorServiceManager().shutdownGraceful(scanner, 10_000);
        }
        if (producer != null) {
            producer.stop();
        }
    }

    @Override
    public int tracked() {
        return copies.size();
    }

    /** Acknowledgments held for a copy not recorded yet (for tests and metrics); at most maxEarlyAcks. */
    public int held() {
        return earlyCount;
    }
}
