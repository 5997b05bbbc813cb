package org.mas.broker.routing;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.identity.CapabilityDirectory;

/**
 * Builds the recipient list of one message, in the header {@code mas_recipients}: routing rules in
 * routes/routing/routing-rules.yaml call it by the bean name {@code recipients}. A recipient is an agent id, or
 * "capability:&lt;name&gt;" for whichever agent offering that capability is free (its queue mas.capability.&lt;name&gt;).
 */
public class RecipientResolver {

    private final AgentDirectory directory;
    private final CapabilityDirectory capabilities;

    public RecipientResolver(AgentDirectory directory, CapabilityDirectory capabilities) {
        this.directory = directory;
        this.capabilities = capabilities;
    }

    /**
     * The recipients the envelope addresses: to_agent, to_agents, the capability of to_capability, or every known
     * agent but the sender.
     */
    public void addressed(Exchange exchange) {
        Envelope envelope = envelope(exchange);
        Set<String> recipients = new LinkedHashSet<>();
        if (envelope.getToCapability() != null) {
            recipients.add(MasNames.capabilityRecipient(envelope.getToCapability()));
        } else if (envelope.isBroadcast()) {
            recipients.addAll(directory.knownAgents());
            recipients.remove(envelope.getFromAgent());
        } else if (envelope.getToAgent() != null) {
            recipients.add(envelope.getToAgent());
        } else {
            recipients.addAll(envelope.getToAgents());
        }
        set(exchange, recipients, "addressed: " + (envelope.getToCapability() != null ? "to_capability"
                : envelope.isBroadcast() ? "broadcast" : envelope.getToAgent() != null ? "to_agent" : "to_agents"));
    }

    /** Adds an agent to the recipients (no effect if it is one already). */
    public void add(Exchange exchange, String agentId) {
        Set<String> recipients = current(exchange);
        recipients.add(agentId);
        set(exchange, recipients, "add");
    }

    /** Replaces the recipients with one agent. */
    public void only(Exchange exchange, String agentId) {
        Set<String> recipients = new LinkedHashSet<>();
        recipients.add(agentId);
        set(exchange, recipients, "only");
    }

    /** Removes an agent from the recipients. */
    public void remove(Exchange exchange, String agentId) {
        Set<String> recipients = current(exchange);
        recipients.remove(agentId);
        set(exchange, recipients, "remove");
    }

    /**
     * The last step of the rules: a message with no recipient left, or addressed to a capability no agent offers,
     * goes to mas.dlq with the reason.
     */
    public void requireAny(Exchange exchange) throws UnroutableException {
        Set<?> replayTargets = exchange.getProperty(MasNames.PROPERTY_REPLAY_TARGETS, Set.class);
        if (replayTargets != null) {
            Set<String> recipients = current(exchange);
            recipients.retainAll(replayTargets);
            set(exchange, recipients, "replay");
        }
        for (String recipient : current(exchange)) {
            String capability = MasNames.capabilityOf(recipient);
            if (capability != null && !(MasNames.isCapability(capability) && capabilities.isOffered(capability))) {
                Envelope envelope = envelope(exchange);
                throw new UnroutableException("unroutable: no agent offers the capability '" + capability + "' ("
                        + envelope.getMessageType() + " from " + envelope.getFromAgent() + ")");
            }
        }
        int count = current(exchange).size();
        if (count > MasNames.MAX_RECIPIENTS) {
            Envelope envelope = envelope(exchange);
            throw new UnroutableException("unroutable: " + count + " recipients for " + envelope.getMessageType() + " from "
                    + envelope.getFromAgent() + ", more than the fan-out limit of " + MasNames.MAX_RECIPIENTS);
        }
        if (count == 0) {
            Envelope envelope = envelope(exchange);
            throw new UnroutableException("unroutable: no recipient for " + envelope.getMessageType() + " from "
                    + envelope.getFromAgent() + (envelope.isBroadcast() ? " (broadcast, but no other agent is known)" : ""));
        }
    }

    private static Envelope envelope(Exchange exchange) {
        return exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
    }

    @SuppressWarnings("unchecked")
    private static Set<String> current(Exchange exchange) {
        List<String> list = exchange.getIn().getHeader(MasNames.HEADER_RECIPIENTS, List.class);
        return list == null ? new LinkedHashSet<>() : new LinkedHashSet<>(list);
    }

    /** @param action what changed them, for the trace of a routing dry-run */
    private static void set(Exchange exchange, Set<String> recipients, String action) {
        RoutingTrace trace = exchange.getProperty(MasNames.PROPERTY_ROUTING_TRACE, RoutingTrace.class);
        if (trace != null) {
            trace.changed(exchange, action, current(exchange), recipients);
        }
        exchange.getIn().setHeader(MasNames.HEADER_RECIPIENTS, new ArrayList<>(recipients));
    }
}
