package org.mas.broker.delivery;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.jms.JmsConstants;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.delivery.ledger.LedgerEvent.Kind;

/**
 * Follows every copy of a {@code requires_ack} message until its recipient acknowledges it. No acknowledgment within
 * ack_timeout, or a {@code failed} one, sends the copy again after an exponential back-off, at most retry_count times;
 * then, or at once for {@code rejected}, the message goes to mas.dlq. The working set is in memory and rebuilt from
 * the ledger at start-up.
 */
public class AckTracker extends ServiceSupport {

    public enum Outcome { APPLIED, ALREADY_FINAL, UNKNOWN_MESSAGE, NOT_A_RECIPIENT }

    public record Result(Outcome outcome, String status) {
    }

    private enum State { AWAITING_ACK, WAITING_TO_RESEND }

    private static final class Copy {
        final String messageId;
        final String agent;
        final String envelope;
        final Map<String, Object> headers;
        final Instant acceptedAt;
        int sends;
        State state = State.AWAITING_ACK;
        Instant due;

        Copy(String messageId, String agent, String envelope, Map<String, Object> headers, Instant acceptedAt, int sends,
             Instant due) {
            this.messageId = messageId;
            this.agent = agent;
            this.envelope = envelope;
            this.headers = headers;
            this.acceptedAt = acceptedAt;
            this.sends = sends;
            this.due = due;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(AckTracker.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String SEND_URI = "jmsNonTx:queue:mas.agent?exchangePattern=InOnly";
    private static final Duration EARLY_ACK_WAIT = Duration.ofSeconds(1);

    private final CamelContext context;
    private final DeliveryLedger ledger;
    private final Duration ackTimeout;
    private final int retryCount;
    private final long initialDelayMs;
    private final double multiplier;
    private final long maxDelayMs;
    private final Duration scanInterval;
    private final Map<String, Copy> copies = new ConcurrentHashMap<>();
    private final java.util.function.Consumer<Duration> latency;
    private ProducerTemplate producer;
    private ScheduledExecutorService scanner;

    public AckTracker(CamelContext context, DeliveryLedger ledger, Duration ackTimeout, int retryCount,
                      long initialDelayMs, double multiplier, long maxDelayMs, Duration scanInterval,
                      java.util.function.Consumer<Duration> ackedLatency) {
        this.context = context;
        this.ledger = ledger;
        this.ackTimeout = ackTimeout;
        this.retryCount = retryCount;
        this.initialDelayMs = initialDelayMs;
        this.multiplier = multiplier;
        this.maxDelayMs = maxDelayMs;
        this.scanInterval = scanInterval;
        this.latency = ackedLatency;
        ledger.addStepListener(this::onStep);
    }

    private static String key(String messageId, String agent) {
        return messageId + '\u0000' + agent;
    }

    /** A copy that needs an acknowledgment was queued (its transaction, if any, has committed). */
    private void onStep(LedgerEvent event) {
        boolean finished = event.kind() == Kind.EXPIRED || event.kind() == Kind.ACKED || event.kind() == Kind.DEAD_LETTERED;
        if (finished && event.recipient() != null) {
            copies.remove(key(event.messageId(), event.recipient())); // expired, acknowledged (e.g. by HTTP), parked
        }
        if (event.kind() == Kind.QUEUED && event.requiresAck() && event.message() != null && event.recipient() != null) {
            LedgerEvent.AcceptedMessage m = event.message();
            copies.putIfAbsent(key(event.messageId(), event.recipient()), new Copy(event.messageId(), event.recipient(),
                    m.envelope(), headers(event.messageId(), m), m.acceptedAt(), event.attempt(), event.ackDeadline()));
        }
    }

    private static Map<String, Object> headers(String id, LedgerEvent.AcceptedMessage m) {
        Map<String, Object> headers = new HashMap<>();
        headers.put(MasNames.HEADER_ID, id);
        headers.put(MasNames.HEADER_FROM, m.fromAgent());
        headers.put(MasNames.HEADER_TYPE, m.messageType());
        headers.put(MasNames.HEADER_REQUIRES_ACK, true);
        if (m.correlationId() != null) {
            headers.put(MasNames.HEADER_CORRELATION_ID, m.correlationId());
        }
        headers.put("JMSPriority", m.priority() - 1);
        headers.put("JMSDeliveryMode", 2);
        headers.put("JMSExpiration", m.expiresAt());
        return headers;
    }

    /** An acknowledgment from {@code agent} (by mas.acks or REST); applying the same one twice changes nothing. */
    public Result acknowledge(String messageId, String agent, String status, String detail) throws Exception {
        String key = key(messageId, agent);
        // an agent can answer before its copy's "queued" step reached the tracker (a REST send returns, then records)
        long deadline = System.nanoTime() + EARLY_ACK_WAIT.toNanos();
        while (!copies.containsKey(key) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Result result = null;
        synchronized (this) {
            Copy copy = copies.get(key);
            if (copy != null) {
                result = apply(copy, agent, status, detail);
            }
        }
        if (result == null) {
            result = notTracked(messageId, agent, status, detail); // database look-ups: outside the lock
        }
        if (result.outcome() == Outcome.APPLIED || result.outcome() == Outcome.ALREADY_FINAL) {
            // a recipient that answers is alive: its queue is not idle
            ledger.submit(new LedgerEvent(Kind.AGENT_SEEN, messageId, agent, 0, Instant.now(), null, null, false, null, null));
        }
        return result;
    }

    /** Called with the lock held. The dead-letter send comes first: if it fails, the copy stays followed. */
    private Result apply(Copy copy, String agent, String status, String detail) {
        switch (status) {
            case "processed" -> {
                copies.remove(key(copy.messageId, agent));
                record(Kind.ACKED, copy, copy.sends, null, detail, agent);
                if (copy.acceptedAt != null) {
                    latency.accept(Duration.between(copy.acceptedAt, Instant.now()));
                }
                return new Result(Outcome.APPLIED, "acked");
            }
            case "rejected" -> {
                String reason = "rejected by " + agent + (detail == null ? "" : ": " + detail);
                sendDeadLetter(copy, reason);
                copies.remove(key(copy.messageId, agent));
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

    private Result notTracked(String messageId, String agent, String status, String detail) throws Exception {
        if (!ledger.flush(Duration.ofSeconds(5))) {
            throw new IllegalStateException("the delivery ledger is behind; try the acknowledgment again");
        }
        Optional<String> current = ledger.deliveryStatus(messageId, agent);
        if (current.isEmpty()) {
            return ledger.status(messageId).isPresent() ? new Result(Outcome.NOT_A_RECIPIENT, null)
                    : new Result(Outcome.UNKNOWN_MESSAGE, null);
        }
        if (current.get().equals("queued") && status.equals("processed")) {
            // a copy that needed no acknowledgment: record the one that came anyway
            ledger.submit(new LedgerEvent(Kind.ACKED, messageId, agent, 0, Instant.now(), detail, agent, false, null, null));
            return new Result(Outcome.APPLIED, "acked");
        }
        return new Result(Outcome.ALREADY_FINAL, current.get());
    }

    /** @return the status the copy is left in */
    private String retryOrDeadLetter(Copy copy, String reason) {
        if (copy.sends > retryCount) {
            sendDeadLetter(copy, reason);
            copies.remove(key(copy.messageId, copy.agent));
            recordDeadLettered(copy, reason);
            return "dead_lettered";
        }
        long delay = (long) Math.min(maxDelayMs, initialDelayMs * Math.pow(multiplier, copy.sends - 1));
        copy.state = State.WAITING_TO_RESEND;
        copy.due = Instant.now().plusMillis(delay);
        record(Kind.RETRYING, copy, copy.sends + 1, copy.due, reason, null);
        return "retrying";
    }

    synchronized void scan() {
        Instant now = Instant.now();
        for (Iterator<Copy> it = copies.values().iterator(); it.hasNext();) {
            Copy copy = it.next();
            if (copy.due == null || copy.due.isAfter(now)) {
                continue;
            }
            try {
                if (copy.state == State.AWAITING_ACK) {
                    retryOrDeadLetter(copy, "no acknowledgment within " + ackTimeout.toSeconds() + " s");
                } else {
                    resend(copy);
                }
            } catch (RuntimeException e) {
                LOG.warn("Acknowledgment handling of {} for {} failed, trying again: {}", copy.messageId, copy.agent, e.toString());
            }
        }
    }

    private void resend(Copy copy) {
        Map<String, Object> headers = new HashMap<>(copy.headers);
        int send = copy.sends + 1;
        headers.put(MasNames.HEADER_TARGET, MasNames.agentQueue(copy.agent));
        headers.put(JmsConstants.JMS_DESTINATION_NAME, MasNames.agentQueue(copy.agent));
        headers.put(MasNames.HEADER_DUPLICATE_ID, copy.messageId + ":" + copy.agent + ":" + send);
        headers.put(MasNames.HEADER_ATTEMPTS, send);
        producer.sendBodyAndHeaders(SEND_URI, copy.envelope, headers);
        copy.sends = send;
        copy.state = State.AWAITING_ACK;
        copy.due = Instant.now().plus(ackTimeout);
        record(Kind.QUEUED, copy, send, copy.due, null, null);
    }

    private void sendDeadLetter(Copy copy, String reason) {
        Map<String, Object> headers = new HashMap<>(copy.headers);
        headers.put("JMSExpiration", 0L);
        headers.put(MasNames.HEADER_ERROR, reason);
        headers.put(MasNames.HEADER_ATTEMPTS, copy.sends);
        headers.put(MasNames.HEADER_TARGET, MasNames.agentQueue(copy.agent));
        headers.put(MasNames.HEADER_DUPLICATE_ID, "dlq:" + copy.messageId + ":" + MasNames.agentQueue(copy.agent));
        producer.sendBodyAndHeaders("jmsNonTx:queue:" + MasNames.DLQ + "?exchangePattern=InOnly", copy.envelope, headers);
    }

    private void recordDeadLettered(Copy copy, String reason) {
        record(Kind.DEAD_LETTERED, copy, copy.sends, null, reason, null);
        LOG.warn("Dead-lettered message {} for {} after {} send(s): {}", copy.messageId, copy.agent, copy.sends, reason);
    }

    private void record(Kind kind, Copy copy, int attempt, Instant deadline, String detail, String actor) {
        ledger.submit(new LedgerEvent(kind, copy.messageId, copy.agent, attempt, Instant.now(), detail, actor, true,
                deadline, null));
    }

    @Override
    protected void doStart() throws Exception {
        producer = context.createProducerTemplate();
        resumeFromLedger();
        scanner = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "ack-tracker");
            thread.setDaemon(true);
            return thread;
        });
        long period = scanInterval.toMillis();
        scanner.scheduleWithFixedDelay(this::scan, period, period, TimeUnit.MILLISECONDS);
    }

    /** Picks up, after a restart, every copy the ledger says still waits for an acknowledgment or a resend. */
    private void resumeFromLedger() throws Exception {
        int resumed = 0;
        for (DeliveryLedger.AwaitingAck awaiting : ledger.awaitingAcks()) {
            Optional<String> envelope = ledger.envelope(awaiting.messageId());
            if (envelope.isEmpty()) {
                continue;
            }
            JsonNode node = MAPPER.readTree(envelope.get());
            long ttl = node.path("ttl").asLong(0);
            long expiresAt = ttl == 0 ? 0 : Instant.parse(node.path("timestamp").asText()).toEpochMilli() + ttl * 1000;
            LedgerEvent.AcceptedMessage m = new LedgerEvent.AcceptedMessage(node.path("from_agent").asText(),
                    node.path("message_type").asText(), node.path("priority").asInt(5), true,
                    node.hasNonNull("correlation_id") ? node.get("correlation_id").asText() : null, null, envelope.get(), expiresAt,
                    null);
            Copy copy = new Copy(awaiting.messageId(), awaiting.agent(), envelope.get(), headers(awaiting.messageId(), m),
                    m.acceptedAt(), Math.max(1, awaiting.attempts()), awaiting.deadline());
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
            scanner.shutdown();
            scanner.awaitTermination(10, TimeUnit.SECONDS);
        }
        if (producer != null) {
            producer.stop();
        }
    }

    /** Copies currently followed (for tests and metrics). */
    public int tracked() {
        return copies.size();
    }
}
