package org.mas.broker.delivery;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.RateLimitedLog;
import org.mas.broker.delivery.ledger.CopyClaims;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.DeliverySteps;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.delivery.ledger.LedgerEvent.Kind;
import org.mas.broker.identity.CapabilityDirectory;

/**
 * Acknowledgment deadlines kept in the shared ledger, for several routers (cluster.enabled): the same rules as
 * {@link AckTracker}, with the copy's row in {@code deliveries} as its state instead of memory. Any router applies an
 * acknowledgment (the copy's row locked, the steps written, committed); every router claims the copies whose deadline
 * passed with {@code FOR UPDATE SKIP LOCKED}, so exactly one resends or dead-letters each. The send comes before the
 * commit: a router that dies in between leaves the row to the next claim, whose repeated send has the same duplicate
 * id and is dropped by Artemis.
 * <p>
 * An acknowledgment whose copy is not in the ledger yet (another router's writer may be a moment behind) is looked
 * up again a few times within the hold, then answered as it stands.
 */
public class SharedAckDeadlines extends ServiceSupport implements AckDeadlines {

    private static final Logger LOG = LoggerFactory.getLogger(SharedAckDeadlines.class);
    /** How long an acknowledgment waits for this router's own steps of its message to reach the database. */
    private static final Duration LEDGER_WAIT = Duration.ofSeconds(5);
    /** Due copies claimed per transaction; a scan takes at most this many batches. */
    private static final int BATCH = 20;
    private static final int MAX_BATCHES = 50;
    /** How long a held acknowledgment is tried again while the ledger cannot be written. */
    private static final Duration ERROR_RETRY = Duration.ofSeconds(60);

    private final CamelContext context;
    private final DeliveryLedger ledger;
    private final CopyClaims claims;
    private final DeliverySteps steps;
    private final CapabilityDirectory capabilities;
    private final Duration ackTimeout;
    private final CopySends sends;
    private final Duration scanInterval;
    private final Duration earlyHold;
    private final int maxHeld;
    private final Consumer<Duration> latency;
    private final AtomicInteger held = new AtomicInteger();
    private final RateLimitedLog failures = new RateLimitedLog(LOG,
            "{} more acknowledgment deadline runs failed in the last minute (not logged one by one)");
    private ProducerTemplate producer;
    private ScheduledExecutorService scanner;

    public SharedAckDeadlines(CamelContext context, DeliveryLedger ledger, DeliverySteps steps,
                              CapabilityDirectory capabilities, Duration ackTimeout, int retryCount, long initialDelayMs,
                              double multiplier, long maxDelayMs, Duration scanInterval, Duration earlyHold, int maxHeld,
                              Consumer<Duration> ackedLatency) {
        this.context = context;
        this.ledger = ledger;
        this.claims = ledger.copyClaims();
        this.steps = steps;
        this.capabilities = capabilities;
        this.ackTimeout = ackTimeout;
        this.sends = new CopySends(retryCount, initialDelayMs, multiplier, maxDelayMs);
        this.scanInterval = scanInterval;
        this.earlyHold = earlyHold;
        this.maxHeld = maxHeld;
        this.latency = ackedLatency;
    }

    @Override
    public void onStep(LedgerEvent event) {
        // nothing to follow in memory: the ledger's rows are the state
    }

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
        Lookup first = apply(messageId, agent, status, detail);
        if (first.result() != null) {
            return first.result();
        }
        if (first.acceptedAt() != null && first.acceptedAt().plus(earlyHold).isBefore(Instant.now())) {
            return first.asItStands(); // long accepted: no copy for this agent is coming
        }
        // an unknown message waits too (unlike on one router): another router may have accepted it a moment ago
        if (held.incrementAndGet() > maxHeld) {
            held.decrementAndGet();
            return first.asItStands();
        }
        CompletableFuture<Result> outcome = new CompletableFuture<>();
        Consumer<Result> answer = later != null ? later : outcome::complete;
        long until = System.nanoTime() + earlyHold.toNanos();
        schedule(() -> retry(messageId, agent, status, detail, until, 25, answer), 25);
        if (later != null) {
            return new Result(Outcome.HELD, null);
        }
        return outcome.get(earlyHold.plus(LEDGER_WAIT).toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Looks the copy up again, with a doubling pause, until it is found or the hold ends. */
    private void retry(String messageId, String agent, String status, String detail, long until, long pauseMs,
                       Consumer<Result> answer) {
        Lookup again;
        try {
            again = apply(messageId, agent, status, detail);
        } catch (Exception e) {
            // the ledger cannot be written now: keep trying (an acknowledgment taken from mas.acks is not there again)
            if (System.nanoTime() - (until + ERROR_RETRY.toNanos()) < 0) {
                failures.warn("Acknowledgment of {} by {} could not be applied yet, trying again: {}", messageId, agent,
                        e.toString());
                schedule(() -> retry(messageId, agent, status, detail, until, pauseMs, answer), 1000);
                return;
            }
            LOG.warn("Acknowledgment of {} by {} could not be applied within {} s: {}", messageId, agent,
                    ERROR_RETRY.toSeconds(), e.toString());
            held.decrementAndGet();
            answer.accept(new Result(Outcome.ALREADY_FINAL, null));
            return;
        }
        long left = TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime());
        if (again.result() != null || left <= 0) {
            held.decrementAndGet();
            answer.accept(again.result() != null ? again.result() : again.asItStands());
            return;
        }
        long pause = Math.min(pauseMs * 2, left);
        schedule(() -> retry(messageId, agent, status, detail, until, pause, answer), pause);
    }

    /**
     * The copy's row: this agent's, else one for a capability it offers. {@code result} null: no such copy in the
     * ledger (yet); {@code acceptedAt} then says whether the message itself is.
     */
    private record Lookup(Result result, Instant acceptedAt) {
        Result asItStands() {
            return acceptedAt == null ? new Result(Outcome.UNKNOWN_MESSAGE, null)
                    : new Result(Outcome.NOT_A_RECIPIENT, acceptedAt.toString());
        }
    }

    private Lookup apply(String messageId, String agent, String status, String detail) throws Exception {
        if (!ledger.awaitWritten(messageId, LEDGER_WAIT)) {
            throw new IllegalStateException("the delivery ledger is behind; try the acknowledgment again");
        }
        CopyClaims.Committed<Result> done = claims.inTransaction(claim -> {
            Optional<CopyClaims.Row> row = claim.lock(messageId, agent);
            if (row.isEmpty()) {
                row = claim.lockAll(messageId).stream().filter(r -> {
                    String capability = MasNames.capabilityOf(r.recipient());
                    return capability != null && capabilities.offers(agent, capability);
                }).findFirst();
            }
            return row.isEmpty() ? null : applyTo(claim, row.get(), agent, status, detail);
        });
        done.steps().forEach(steps::publishRecorded);
        if (done.result() == null) {
            Optional<DeliveryLedger.StoredMessage> message = ledger.storedMessage(messageId);
            return new Lookup(null, message.map(DeliveryLedger.StoredMessage::acceptedAt).orElse(null));
        }
        Result result = done.result();
        if (result.outcome() == Outcome.APPLIED || result.outcome() == Outcome.ALREADY_FINAL) {
            // a recipient that answers is alive: its queue is not idle
            steps.publish(new LedgerEvent(Kind.AGENT_SEEN, messageId, agent, 0, Instant.now(), null, null, false, null, null));
        }
        if (result.outcome() == Outcome.APPLIED && "acked".equals(result.status())) {
            ledger.storedMessage(messageId).ifPresent(m -> latency.accept(Duration.between(m.acceptedAt(), Instant.now())));
        }
        return new Lookup(result, null);
    }

    /** An acknowledgment applied to a locked row; the same rules as {@link AckTracker}. */
    private Result applyTo(CopyClaims.Claim claim, CopyClaims.Row row, String agent, String status, String detail)
            throws Exception {
        if (!row.open()) {
            return new Result(Outcome.ALREADY_FINAL, row.status());
        }
        if (!row.requiresAck()) {
            if (row.status().equals("queued") && status.equals("processed")) {
                // a copy that needed no acknowledgment: record the one that came anyway
                claim.record(new LedgerEvent(Kind.ACKED, row.messageId(), row.recipient(), 0, Instant.now(), detail, agent,
                        false, null, null));
                return new Result(Outcome.APPLIED, "acked");
            }
            return new Result(Outcome.ALREADY_FINAL, row.status());
        }
        switch (status) {
            case "processed" -> {
                record(claim, Kind.ACKED, row, row.attempts(), null, detail, agent);
                return new Result(Outcome.APPLIED, "acked");
            }
            case "rejected" -> {
                LedgerEvent.AcceptedMessage message = message(row);
                String reason = "rejected by " + agent + (detail == null ? "" : ": " + detail);
                CopySends.deadLetter(producer, row.messageId(), row.recipient(), message.envelope(),
                        CopySends.headers(row.messageId(), message), reason, row.attempts(), CopySends.generation(message));
                record(claim, Kind.REJECTED, row, row.attempts(), null, detail, agent);
                deadLettered(claim, row, row.attempts(), reason);
                return new Result(Outcome.APPLIED, "dead_lettered");
            }
            default -> { // failed
                if (!row.status().equals("queued")) {
                    return new Result(Outcome.ALREADY_FINAL, "retrying"); // this send already failed
                }
                record(claim, Kind.FAILED, row, row.attempts(), null, detail, agent);
                return new Result(Outcome.APPLIED, retryOrDeadLetter(claim, row, row.attempts(),
                        "failed by " + agent + (detail == null ? "" : ": " + detail)));
            }
        }
    }

    /** After send number {@code sent} failed or went unanswered: the next send is due after the back-off, or mas.dlq. */
    private String retryOrDeadLetter(CopyClaims.Claim claim, CopyClaims.Row row, int sent, String reason) throws Exception {
        if (sends.exhausted(sent)) {
            LedgerEvent.AcceptedMessage message = message(row);
            CopySends.deadLetter(producer, row.messageId(), row.recipient(), message.envelope(),
                    CopySends.headers(row.messageId(), message), reason, sent, CopySends.generation(message));
            deadLettered(claim, row, sent, reason);
            return "dead_lettered";
        }
        record(claim, Kind.RETRYING, row, sent + 1, Instant.now().plusMillis(sends.delayMs(sent)), reason, null);
        return "retrying";
    }

    /** Claims the copies whose deadline passed, a batch per transaction, until none is left or the scan's share ends. */
    void scan() {
        try {
            for (int batch = 0; batch < MAX_BATCHES; batch++) {
                CopyClaims.Committed<Integer> done = claims.inTransaction(claim -> {
                    List<CopyClaims.Row> due = claim.due(Instant.now(), BATCH);
                    for (CopyClaims.Row row : due) {
                        due(claim, row);
                    }
                    return due.size();
                });
                done.steps().forEach(steps::publishRecorded);
                if (done.result() < BATCH) {
                    return;
                }
            }
        } catch (Exception e) {
            failures.warn("Acknowledgment deadlines could not be handled, trying again: {}", e.toString());
        }
    }

    private void due(CopyClaims.Claim claim, CopyClaims.Row row) throws Exception {
        Optional<DeliveryLedger.StoredMessage> stored = ledger.storedMessage(row.messageId());
        if (stored.isEmpty()) {
            record(claim, Kind.EXPIRED, row, row.attempts(), null, "the message is no longer in the ledger", null);
            return;
        }
        LedgerEvent.AcceptedMessage message = CopySends.accepted(stored.get());
        if (message.expiresAt() > 0 && message.expiresAt() <= System.currentTimeMillis()) {
            // a send again would expire at once: nothing left to wait for
            record(claim, Kind.EXPIRED, row, row.attempts(), null, "expired while waiting for an acknowledgment", null);
        } else if (row.status().equals("queued")) {
            retryOrDeadLetter(claim, row, row.attempts(), "no acknowledgment within " + ackTimeout.toSeconds() + " s");
        } else if (row.status().equals("failed")) {
            retryOrDeadLetter(claim, row, row.attempts(), "failed"); // its retry step was never written
        } else { // retrying: attempts is the send now due
            int send = row.attempts();
            CopySends.resend(producer, row.messageId(), row.recipient(), message.envelope(),
                    CopySends.headers(row.messageId(), message), send, CopySends.generation(message));
            record(claim, Kind.QUEUED, row, send, Instant.now().plus(ackTimeout), null, null);
        }
    }

    private LedgerEvent.AcceptedMessage message(CopyClaims.Row row) throws Exception {
        DeliveryLedger.StoredMessage stored = ledger.storedMessage(row.messageId()).orElseThrow(() ->
                new IllegalStateException("message " + row.messageId() + " is no longer in the ledger"));
        return CopySends.accepted(stored);
    }

    private void deadLettered(CopyClaims.Claim claim, CopyClaims.Row row, int sent, String reason) {
        record(claim, Kind.DEAD_LETTERED, row, sent, null, reason, null);
        LOG.warn("Dead-lettered message {} for {} after {} send(s): {}", row.messageId(), row.recipient(), sent, reason);
    }

    private static void record(CopyClaims.Claim claim, Kind kind, CopyClaims.Row row, int attempt, Instant deadline,
                               String detail, String actor) {
        claim.record(new LedgerEvent(kind, row.messageId(), row.recipient(), attempt, Instant.now(), detail, actor, true,
                deadline, null));
    }

    private void schedule(Runnable task, long delayMs) {
        ScheduledExecutorService executor = scanner;
        if (executor == null || executor.isShutdown()) {
            task.run();
            return;
        }
        try {
            executor.schedule(task, delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            task.run();
        }
    }

    @Override
    protected void doStart() throws Exception {
        producer = context.createProducerTemplate();
        scanner = context.getExecutorServiceManager().newScheduledThreadPool(this, "ack-deadlines", 2);
        long period = scanInterval.toMillis();
        scanner.scheduleWithFixedDelay(this::scan, period, period, TimeUnit.MILLISECONDS);
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
        try {
            return claims.awaiting();
        } catch (java.sql.SQLException e) {
            return -1;
        }
    }

    /** Acknowledgments held for a copy not in the ledger yet; at most maxHeld. */
    public int held() {
        return held.get();
    }
}
