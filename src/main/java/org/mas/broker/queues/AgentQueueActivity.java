package org.mas.broker.queues;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When this router last sent to each agent queue, and which queues clean-up is removing right now: the two meet so
 * that no copy goes to a queue in the instant it is removed. A sender marks the agent before it sends and waits while
 * that agent's queue is being removed; clean-up marks the queue as retiring, then gives up if a send was marked since
 * it found the queue idle. (Another router instance is not covered: its sends are what the idle timeout guards.)
 * Bean name {@code agentQueueActivity}.
 */
public class AgentQueueActivity {

    private final Map<String, Long> lastSend = new ConcurrentHashMap<>();
    private final Map<String, Object> retiring = new ConcurrentHashMap<>();

    /** Before a send to the agent's queue: a copy in a transaction still open counts from here. */
    public void sendingTo(String agent) {
        lastSend.put(agent, System.currentTimeMillis());
        Object lock = retiring.get(agent);
        if (lock != null) {
            synchronized (lock) {
                while (retiring.get(agent) == lock) {
                    try {
                        lock.wait(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    public Optional<Instant> lastSendTo(String agent) {
        Long at = lastSend.get(agent);
        return at == null ? Optional.empty() : Optional.of(Instant.ofEpochMilli(at));
    }

    /** Runs {@code removal} unless a send to the agent was marked after {@code idleSince}; true if it ran. */
    boolean retireUnlessSentSince(String agent, long idleSinceMillis, Removal removal) throws Exception {
        Object lock = new Object();
        retiring.put(agent, lock);
        try {
            Long sent = lastSend.get(agent);
            if (sent != null && sent >= idleSinceMillis) {
                return false;
            }
            removal.run();
            lastSend.remove(agent);
            return true;
        } finally {
            synchronized (lock) {
                retiring.remove(agent, lock);
                lock.notifyAll();
            }
        }
    }

    interface Removal {
        void run() throws Exception;
    }
}
