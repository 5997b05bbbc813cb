package org.mas.broker.identity;

/**
 * Who offers which capability (contract section 7): what routing asks before a message addressed with
 * {@code to_capability} goes to mas.capability.&lt;name&gt;, and what an acknowledgment of such a copy is checked against.
 */
public interface CapabilityDirectory {

    /** True if at least one agent offers the capability. */
    boolean isOffered(String capability);

    /** True if this agent offers the capability. */
    boolean offers(String agentId, String capability);
}
