package org.mas.broker.identity;

import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** The capabilities of the agents listed in configuration (message_broker.agents[].capabilities); fixed at start-up. */
public final class ConfiguredCapabilities implements CapabilityDirectory {

    private final Map<String, Set<String>> byAgent;
    private final Set<String> offered;

    /** @param capabilitiesByAgent agent id -> the capabilities it offers */
    public ConfiguredCapabilities(Map<String, ? extends Collection<String>> capabilitiesByAgent) {
        Map<String, Set<String>> copy = new java.util.HashMap<>();
        Set<String> all = new TreeSet<>();
        capabilitiesByAgent.forEach((agent, capabilities) -> {
            copy.put(agent, Set.copyOf(capabilities));
            all.addAll(capabilities);
        });
        this.byAgent = Map.copyOf(copy);
        this.offered = java.util.Collections.unmodifiableSet(all);
    }

    @Override
    public boolean isOffered(String capability) {
        return offered.contains(capability);
    }

    @Override
    public boolean offers(String agentId, String capability) {
        return byAgent.getOrDefault(agentId, Set.of()).contains(capability);
    }

    /** Every capability some agent offers, sorted: the router creates a queue for each at start-up. */
    public Set<String> offered() {
        return offered;
    }
}
