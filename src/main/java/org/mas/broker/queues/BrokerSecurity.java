package org.mas.broker.queues;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.remoting.impl.invm.InVMConnection;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.core.security.impl.SecurityStoreImpl;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.RegisteredAgent;

/**
 * What each identity may do on the embedded broker, as Artemis security settings (the most specific match wins and
 * matches do not merge, so every match repeats the router's role, and the anonymous one when allowed):
 * <ul>
 * <li>{@code #}: the router (and anonymous connections with security.allow_anonymous) may do everything;</li>
 * <li>{@code mas.inbound}, {@code mas.acks}: every agent may send;</li>
 * <li>{@code mas.alerts}: agents with the role monitor may subscribe, non-durably (the subscription queue lives as
 * long as their connection; a durable one could take a name a future agent or capability queue needs);</li>
 * <li>{@code mas.agent.<id>}: that agent may consume and browse;</li>
 * <li>{@code mas.capability.<c>}: every agent that registered the capability may consume and browse.</li>
 * </ul>
 * Nothing else: agents create no queues (their queue and their capabilities' queues are created here, at start and
 * at registration) and cannot call management. The embedded broker gets them before it starts ({@link #configure}), a
 * standalone one once it runs ({@link #attach}). Follows the registry: a new agent gets its settings and queues; a
 * rotated secret or a disabled agent drops Artemis's authentication cache and closes the agent's connections.
 */
public final class BrokerSecurity {

    public static final String ROLE_ROUTER = "mas-router";
    public static final String ROLE_ANONYMOUS = "mas-anonymous";
    /** Every agent holds it: send to mas.inbound and mas.acks. */
    public static final String ROLE_AGENT = "agent";
    static final String AGENT_ROLE_PREFIX = "agent:";
    static final String CAPABILITY_ROLE_PREFIX = "capability:";

    private static final Logger LOG = LoggerFactory.getLogger(BrokerSecurity.class);

    private final AgentRegistry registry;
    private final boolean allowAnonymous;
    private volatile ActiveMQServer server;

    public BrokerSecurity(AgentRegistry registry, boolean allowAnonymous) {
        this.registry = registry;
        this.allowAnonymous = allowAnonymous;
        registry.subscribe(this::onChange);
    }

    /** The roles an agent's subject carries. */
    public static Set<String> rolesOf(RegisteredAgent agent) {
        Set<String> roles = new LinkedHashSet<>();
        roles.add(ROLE_AGENT);
        roles.add(AGENT_ROLE_PREFIX + agent.id());
        agent.capabilities().forEach(c -> roles.add(CAPABILITY_ROLE_PREFIX + c));
        if (agent.hasRole(MasNames.ROLE_MONITOR)) {
            roles.add(MasNames.ROLE_MONITOR);
        }
        return roles;
    }

    /** The router's own connections come through the in-VM acceptor. */
    static boolean isInVm(RemotingConnection connection) {
        return connection != null && connection.getTransportConnection() instanceof InVMConnection;
    }

    /** Before the embedded broker starts: every security setting, and the queues of the registered agents and capabilities. */
    void configure(Configuration config) {
        config.setSecurityRoles(settings());
        for (String queue : registryQueues()) {
            config.addQueueConfiguration(queue(queue));
        }
    }

    /**
     * A standalone broker ({@link RegistrySecurityManager}, attached by {@link DurableIngressPlugin}): the same
     * settings, put into the running server's security repository now and again once it is active (after the
     * broker.xml ones, which they replace where the match is the same), the registry's queues made whenever it becomes
     * active (at start, and on a backup when it takes over), and registry changes applied from then on.
     */
    void attach(ActiveMQServer running) {
        if (!running.getConfiguration().isSecurityEnabled()) {
            LOG.warn("security-enabled is false in broker.xml: the agent registry authenticates nobody on this broker");
        }
        if (!running.getConfiguration().isPopulateValidatedUser()) {
            LOG.warn("populate-validated-user is false in broker.xml: set it to true (the router checks senders against it)");
        }
        if (running.getSecurityRepository() != null) {
            applySettings(running);
        }
        running.registerActivateCallback(new org.apache.activemq.artemis.core.server.ActivateCallback() {
            @Override
            public void activationComplete() {
                applySettings(running);
                registryQueues().forEach(queue -> createQueue(running, queue));
                LOG.info("Agent registry security active: {} enabled agent(s)", registry.enabledAgentIds().size());
            }
        });
        started(running);
        if (running.isActive()) {
            registryQueues().forEach(queue -> createQueue(running, queue));
        }
    }

    private void applySettings(ActiveMQServer running) {
        settings().forEach(running.getSecurityRepository()::addMatch);
    }

    /** Every match and its roles: the fixed ones, one per enabled agent's queue, one per offered capability's queue. */
    private Map<String, Set<Role>> settings() {
        Map<String, Set<Role>> settings = new LinkedHashMap<>();
        settings.put("#", roles());
        settings.put(MasNames.INBOUND, roles(new Role(ROLE_AGENT, true, false, false, false, false, false, false, false, false, false, false, false)));
        settings.put(MasNames.ACKS, roles(new Role(ROLE_AGENT, true, false, false, false, false, false, false, false, false, false, false, false)));
        settings.put(MasNames.ALERTS, roles(new Role(MasNames.ROLE_MONITOR, false, true, false, false, true, true, false, true, false, false, false, false)));
        for (RegisteredAgent agent : registry.enabledAgents()) {
            settings.put(MasNames.agentQueue(agent.id()), agentRoles(agent.id()));
        }
        for (String capability : registry.offeredCapabilities()) {
            settings.put(MasNames.capabilityQueue(capability), capabilityRoles(capability));
        }
        return settings;
    }

    private java.util.List<String> registryQueues() {
        java.util.List<String> queues = new java.util.ArrayList<>();
        registry.enabledAgents().forEach(agent -> queues.add(MasNames.agentQueue(agent.id())));
        registry.offeredCapabilities().forEach(capability -> queues.add(MasNames.capabilityQueue(capability)));
        return queues;
    }

    /** The broker is running: registry changes apply to it from now on. */
    void started(ActiveMQServer running) {
        this.server = running;
    }

    void stopped() {
        this.server = null;
    }

    private void onChange(AgentRegistry.Change change) {
        ActiveMQServer running = server;
        if (running == null) {
            return; // applied by configure() at the next start
        }
        RegisteredAgent agent = change.agent();
        switch (change.kind()) {
            case REGISTERED -> {
                running.getSecurityRepository().addMatch(MasNames.agentQueue(agent.id()), agentRoles(agent.id()));
                for (String capability : agent.capabilities()) {
                    running.getSecurityRepository().addMatch(MasNames.capabilityQueue(capability), capabilityRoles(capability));
                }
                if (running.isActive()) { // a standalone backup makes them when it takes over
                    createQueue(running, MasNames.agentQueue(agent.id()));
                    agent.capabilities().forEach(c -> createQueue(running, MasNames.capabilityQueue(c)));
                }
            }
            // a disabled agent's settings stay (no subject has its role any more); both caches are dropped, and the
            // security manager refuses every permission to a login made with the agent's old record
            case SECRET_ROTATED, DISABLED -> disconnect(running, agent.id());
        }
    }

    /** Drops the cached subjects (its old secret stops working at once) and closes the agent's connections. */
    private static void disconnect(ActiveMQServer running, String agentId) {
        if (running.getSecurityStore() instanceof SecurityStoreImpl store) {
            store.invalidateAuthenticationCache();
            store.invalidateAuthorizationCache(); // a permission cached for the old login is asked again (authorize)
        }
        if (!running.isActive()) {
            return; // a standalone backup: it has no connections
        }
        try {
            if (running.getActiveMQServerControl().closeConnectionsForUser(agentId)) {
                LOG.info("Closed the connections of agent {}", agentId);
            }
        } catch (Exception e) {
            LOG.warn("Could not close the connections of agent {}: {}", agentId, e.toString());
        }
    }

    private static void createQueue(ActiveMQServer running, String name) {
        try {
            if (running.locateQueue(SimpleString.of(name)) == null) {
                running.createQueue(queue(name).setAutoCreateAddress(true), true);
            }
        } catch (Exception e) {
            if (running.locateQueue(SimpleString.of(name)) == null) {
                LOG.warn("Could not create queue {}: {}", name, e.toString());
            }
        }
    }

    private static QueueConfiguration queue(String name) {
        return QueueConfiguration.of(name).setAddress(name).setRoutingType(RoutingType.ANYCAST).setDurable(true);
    }

    private Set<Role> agentRoles(String agentId) {
        return roles(new Role(AGENT_ROLE_PREFIX + agentId, false, true, false, false, false, false, false, true, false, false, false, false));
    }

    private Set<Role> capabilityRoles(String capability) {
        return roles(new Role(CAPABILITY_ROLE_PREFIX + capability, false, true, false, false, false, false, false, true, false, false, false, false));
    }

    /** The router's role (every permission), the anonymous one if allowed, and these. */
    private Set<Role> roles(Role... specific) {
        Set<Role> roles = new LinkedHashSet<>();
        roles.add(everything(ROLE_ROUTER));
        if (allowAnonymous) {
            roles.add(everything(ROLE_ANONYMOUS));
        }
        roles.addAll(java.util.List.of(specific));
        return roles;
    }

    private static Role everything(String name) {
        return new Role(name, true, true, true, true, true, true, true, true, true, true, true, true);
    }
}
