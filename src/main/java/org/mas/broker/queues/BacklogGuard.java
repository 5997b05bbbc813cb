package org.mas.broker.queues;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * Refuses new messages for an agent queue that holds backlog.max_depth messages or more: REST answers 429 with
 * Retry-After; other ingresses dead-letter the message with reason "backlog" (never a silent drop, never unbounded
 * growth). Depths come from one management call, refreshed in the background at most once a second, and count what
 * was admitted since, so a burst overshoots the limit by at most what a refresh in flight missed. Bean name
 * {@code backlog}.
 */
public class BacklogGuard {

    /** A message refused because a recipient's queue is over its backlog limit. */
    public static class BacklogException extends Exception {
        public BacklogException(String message) {
            super(message);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(BacklogGuard.class);
    private static final long REFRESH_NANOS = 1_000_000_000L;

    private final QueueAdmin queues;
    private final long limit;
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private final Executor background;
    private volatile Map<String, Long> depths = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile long refreshedAt = System.nanoTime() - 2 * REFRESH_NANOS;

    /** @param background where depths are read (one thread, from Camel's ExecutorServiceManager: stopped with Camel) */
    public BacklogGuard(QueueAdmin queues, long limit, Executor background) {
        this.queues = queues;
        this.limit = limit;
        this.background = background;
    }

    /** After the routing rules: every recipient's queue (an agent's or a capability's) must be under the limit. */
    public void admit(Exchange exchange) throws BacklogException {
        @SuppressWarnings("unchecked")
        List<String> recipients = exchange.getIn().getHeader(MasNames.HEADER_RECIPIENTS, List.class);
        if (recipients == null) {
            refreshSoon();
            return;
        }
        Refusal refusal = refusal(recipients);
        if (refusal != null) {
            exchange.getIn().setHeader(MasNames.HEADER_TARGET, refusal.queue());
            throw new BacklogException(refusal.reason());
        }
        for (String agent : recipients) {
            depths.merge(MasNames.recipientQueue(agent), 1L, Long::sum); // counted until the next reading replaces it
        }
    }

    /** The first recipient's queue at or past the limit, and why. */
    public record Refusal(String queue, String reason) {
    }

    /**
     * The check of {@link #admit} without its count: null if every recipient's queue is under the limit. The routing
     * dry-run asks this; it admits nothing.
     */
    public Refusal refusal(List<String> recipients) {
        refreshSoon();
        for (String agent : recipients) {
            String queue = MasNames.recipientQueue(agent);
            long depth = depths.getOrDefault(queue, 0L);
            if (depth >= limit) {
                return new Refusal(queue, "backlog: " + queue + " holds " + depth + " messages (limit " + limit + ")");
            }
        }
        return null;
    }

    private void refreshSoon() {
        if (System.nanoTime() - refreshedAt > REFRESH_NANOS && refreshing.compareAndSet(false, true)) {
            background.execute(() -> {
                try {
                    Map<String, Long> fresh = new java.util.concurrent.ConcurrentHashMap<>();
                    for (QueueAdmin.QueueInfo queue : queues.list()) {
                        fresh.put(queue.name(), queue.depth());
                    }
                    depths = fresh;
                } catch (Exception e) {
                    LOG.warn("Could not read queue depths for the backlog limit: {}", e.toString());
                } finally {
                    refreshedAt = System.nanoTime();
                    refreshing.set(false);
                }
            });
        }
    }
}
