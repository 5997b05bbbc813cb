package org.mas.broker.queues;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * Queue clean-up, every cleanup_interval, through the management address only:
 * <ul>
 * <li>messages whose expiration has passed leave the agent queues and mas.inbound now (to the expiry address, where
 * they are recorded as expired and parked on mas.expired), even when the broker's own expiry scan is slow or off;</li>
 * <li>mas.expired keeps what was parked within ledger_retention, like the ledger;</li>
 * <li>an agent queue that is empty, has no consumer, and whose agent has not been seen (a message or an
 * acknowledgment from it) for idle_queue_timeout is removed. An agent never seen counts from when this clean-up first
 * found its queue, so a queue created by the API gets the full timeout. A registered agent's queue is kept: agents
 * may not create queues.</li>
 * </ul>
 * A queue is read again just before its removal and kept if anything was added to it or a consumer came; the broker
 * itself refuses to remove a queue that has a consumer; and this router does not send to a queue while it is being
 * removed, nor remove one it sent to within the timeout ({@link AgentQueueActivity}). Bean name {@code queueCleanup}.
 */
public class QueueCleanup {

    private static final Logger LOG = LoggerFactory.getLogger(QueueCleanup.class);

    private final QueueAdmin queues;
    private final AgentQueueActivity activity;
    private final LastSeen ledger;
    private final java.util.function.Predicate<String> registered;
    private final Duration idleTimeout;
    private final Duration expiredRetention;
    private final Clock clock;
    /** Agents seen by this instance: also when the ledger does not record, and before its writer catches up. */
    private final Map<String, Instant> seenHere = new ConcurrentHashMap<>();
    private final Map<String, Instant> firstFound = new ConcurrentHashMap<>();

    /** What one run did. */
    public record Result(List<String> removedQueues, long expired, long expiredDiscarded) {
    }

    /** @param idleTimeout zero: idle queues are never removed */
    /** When an agent was last seen, as the delivery ledger has it (queues_db.agent_activity). */
    public interface LastSeen {
        Optional<Instant> agentLastSeen(String agent) throws Exception;
    }

    /** @param registered true for an agent of the registry (enabled): its queue is kept, idle or not */
    public QueueCleanup(QueueAdmin queues, AgentQueueActivity activity, java.util.function.Predicate<String> registered,
                        LastSeen ledger, Duration idleTimeout, Duration expiredRetention, Clock clock) {
        this.queues = queues;
        this.registered = registered;
        this.activity = activity;
        this.ledger = ledger;
        this.idleTimeout = idleTimeout;
        this.expiredRetention = expiredRetention;
        this.clock = clock;
    }

    /** At most this many agents in {@link #seenHere}; past it the ledger alone says when an agent was seen. */
    static final int MAX_SEEN_HERE = 100_000;

    /** An agent sent a message or an acknowledgment (the delivery steps' agent_seen, wired in BrokerBeans). */
    public void agentSeen(String agent, Instant at) {
        if (agent != null && !idleTimeout.isZero() && (seenHere.size() < MAX_SEEN_HERE || seenHere.containsKey(agent))) {
            seenHere.merge(agent, at, (a, b) -> a.isAfter(b) ? a : b);
        }
    }

    /** Agents whose last sighting this instance keeps (bounded: see {@link #MAX_SEEN_HERE}). */
    public int sightings() {
        return seenHere.size();
    }

    public Result run() throws Exception {
        Instant now = clock.instant();
        long expired = 0;
        long discarded = 0;
        List<String> removed = new ArrayList<>();
        Set<String> present = new HashSet<>();
        for (QueueAdmin.QueueInfo queue : queues.list()) {
            String name = queue.name();
            boolean agentQueue = name.startsWith(MasNames.AGENT_QUEUE_PREFIX);
            boolean recipientQueue = agentQueue || name.startsWith(MasNames.CAPABILITY_QUEUE_PREFIX);
            if (queue.depth() > 0 && (recipientQueue || name.equals(MasNames.INBOUND))) {
                expired += queues.expireDue(name, now.toEpochMilli());
            } else if (queue.depth() > 0 && name.equals(MasNames.EXPIRED)) {
                discarded += queues.removeOlderThan(name, now.minus(expiredRetention).toEpochMilli());
            }
            if (agentQueue) { // capability queues stay: the router made them for the agents that offer them
                present.add(name);
                Instant found = firstFound.computeIfAbsent(name, n -> now);
                if (isIdle(queue, found, now) && removeIfStillIdle(queue, now)) {
                    removed.add(name);
                    present.remove(name);
                }
            }
        }
        firstFound.keySet().retainAll(present);
        // a sighting older than the idle timeout keeps no queue: forgotten, so senders that come and go leave nothing
        Instant forgetBefore = now.minus(idleTimeout);
        seenHere.values().removeIf(at -> at.isBefore(forgetBefore));
        if (!removed.isEmpty() || expired > 0 || discarded > 0) {
            LOG.info("Queue clean-up: removed idle queues {}, expired {} messages, discarded {} parked on {} longer than {}",
                    removed, expired, discarded, MasNames.EXPIRED, expiredRetention);
        }
        return new Result(removed, expired, discarded);
    }

    private boolean isIdle(QueueAdmin.QueueInfo queue, Instant found, Instant now) throws Exception {
        if (idleTimeout.isZero() || queue.depth() > 0 || queue.consumers() > 0 || registered.test(queue.agent())) {
            return false;
        }
        Instant lastSeen = found;
        Instant here = seenHere.get(queue.agent());
        if (here != null && here.isAfter(lastSeen)) {
            lastSeen = here;
        }
        Optional<Instant> recorded = ledger.agentLastSeen(queue.agent());
        if (recorded.isPresent() && recorded.get().isAfter(lastSeen)) {
            lastSeen = recorded.get();
        }
        Optional<Instant> sentTo = activity.lastSendTo(queue.agent()); // a copy may still be in an open transaction
        if (sentTo.isPresent() && sentTo.get().isAfter(lastSeen)) {
            lastSeen = sentTo.get();
        }
        return lastSeen.plus(idleTimeout).isBefore(now);
    }

    private boolean removeIfStillIdle(QueueAdmin.QueueInfo seen, Instant idleAt) {
        try {
            Optional<QueueAdmin.QueueInfo> now = queues.get(seen.name());
            if (now.isEmpty()) {
                return false; // removed by someone else
            }
            QueueAdmin.QueueInfo queue = now.get();
            if (queue.depth() > 0 || queue.consumers() > 0 || queue.added() != seen.added()) {
                return false;
            }
            if (!activity.retireUnlessSentSince(queue.agent(), idleAt.minus(idleTimeout).toEpochMilli(),
                    () -> queues.deleteUnconsumed(queue.name()))) {
                return false; // this router sent to it meanwhile
            }
            seenHere.remove(queue.agent());
            LOG.info("Removed idle agent queue {}: empty, no consumer, agent not seen for more than {}", queue.name(), idleTimeout);
            return true;
        } catch (Exception e) {
            LOG.info("Kept agent queue {}: {}", seen.name(), e.getMessage()); // e.g. a consumer attached meanwhile
            return false;
        }
    }
}
