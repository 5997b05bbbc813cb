package org.mas.broker.routing;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * The agents a broadcast reaches: the registry's enabled agents and those that have a queue on the broker (but not
 * agents the registry disabled). The broker is asked at most once per refresh interval, in the background: a broadcast
 * waits for the broker only the very first time (or after {@link #invalidate()}), and a failed refresh keeps the last known list.
 */
public class AgentDirectory {

    private static final Logger LOG = LoggerFactory.getLogger(AgentDirectory.class);

    private final Supplier<Set<String>> registered;
    private final Predicate<String> disabled;
    private final Supplier<List<String>> brokerQueueNames;
    private final long refreshNanos;
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private final Executor background;
    private volatile Set<String> known;
    private final Set<String> ignored = java.util.concurrent.ConcurrentHashMap.newKeySet(); // warned about once, bounded
    private volatile long refreshedAt;

    /**
     * @param registered the enabled agents of the registry
     * @param disabled   true for an agent the registry disabled: its queue, if it is left, is no recipient
     * @param background where refreshes run (one thread, from Camel's ExecutorServiceManager: stopped with Camel)
     */
    public AgentDirectory(Supplier<Set<String>> registered, Predicate<String> disabled,
                          Supplier<List<String>> brokerQueueNames, Duration refresh, Executor background) {
        this.background = background;
        this.registered = registered;
        this.disabled = disabled;
        this.brokerQueueNames = brokerQueueNames;
        this.refreshNanos = refresh.toNanos();
        this.known = Set.copyOf(registered.get());
    }

    /** Every known agent id. */
    public Set<String> knownAgents() {
        if (refreshedAt == 0) {
            synchronized (this) {
                if (refreshedAt == 0) {
                    refresh(); // nothing known from the broker yet: this once, wait for it (a failure is retried)
                }
            }
        } else if (System.nanoTime() - refreshedAt > refreshNanos && refreshing.compareAndSet(false, true)) {
            background.execute(() -> {
                try {
                    refresh();
                } catch (RuntimeException e) {
                    LOG.warn("Could not refresh the known agents, keeping the last list: {}", e.toString());
                } finally {
                    refreshing.set(false);
                }
            });
        }
        return known;
    }

    private void refresh() {
        Set<String> agents = new TreeSet<>(registered.get());
        for (String queue : brokerQueueNames.get()) {
            if (queue.startsWith(MasNames.AGENT_QUEUE_PREFIX)) {
                String agent = MasNames.queueRecipient(queue);
                if (agent != null) {
                    if (!disabled.test(agent)) {
                        agents.add(agent);
                    }
                } else if (ignored.size() < 1_000 && ignored.add(queue)) {
                    // created by a client under a name no agent can have: never a recipient
                    LOG.warn("Queue {} is not named after a valid agent id: broadcasts do not reach it", queue.length() > 300
                            ? queue.substring(0, 300) + "..." : queue);
                }
            }
        }
        known = Set.copyOf(agents);
        refreshedAt = System.nanoTime();
        LOG.debug("Known agents: {}", agents);
    }

    /** The next broadcast asks the broker again, and waits for the answer. */
    public void invalidate() {
        refreshedAt = 0;
    }
}
