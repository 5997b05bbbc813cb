package org.mas.broker.routing;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * The agents a broadcast reaches: those listed in configuration and those that have a queue on the broker. The broker
 * is asked at most once per refresh interval, so a broadcast costs no management round trip in the common case.
 */
public class AgentDirectory {

    private static final Logger LOG = LoggerFactory.getLogger(AgentDirectory.class);

    private final Set<String> configured;
    private final Supplier<List<String>> brokerQueueNames;
    private final long refreshNanos;
    private volatile Set<String> known;
    private volatile long refreshedAt;

    public AgentDirectory(List<String> configuredAgents, Supplier<List<String>> brokerQueueNames, Duration refresh) {
        this.configured = Set.copyOf(configuredAgents);
        this.brokerQueueNames = brokerQueueNames;
        this.refreshNanos = refresh.toNanos();
        this.known = Set.copyOf(configuredAgents);
    }

    /** Every known agent id, sorted. */
    public Set<String> knownAgents() {
        if (refreshedAt == 0 || System.nanoTime() - refreshedAt > refreshNanos) {
            refresh();
        }
        return known;
    }

    public synchronized void refresh() {
        if (refreshedAt != 0 && System.nanoTime() - refreshedAt <= refreshNanos) {
            return;
        }
        Set<String> agents = new TreeSet<>(configured);
        for (String queue : brokerQueueNames.get()) {
            if (queue.startsWith(MasNames.AGENT_QUEUE_PREFIX) && queue.length() > MasNames.AGENT_QUEUE_PREFIX.length()) {
                agents.add(queue.substring(MasNames.AGENT_QUEUE_PREFIX.length()));
            }
        }
        known = Set.copyOf(agents);
        refreshedAt = System.nanoTime();
        LOG.debug("Known agents: {}", agents);
    }

    /** The next call asks the broker again (e.g. after a queue was created). */
    public void invalidate() {
        refreshedAt = 0;
    }
}
