package org.mas.broker.routing;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.camel.Exchange;

/**
 * What the recipient steps did on one routing dry-run: for each recipient, the step that added it, and for each one
 * taken out again, the step that removed it. Noted by {@link RecipientResolver} only on an exchange that carries a
 * trace ({@link org.mas.broker.MasNames#PROPERTY_ROUTING_TRACE}); real messages carry none.
 */
public final class RoutingTrace {

    /**
     * One recipient step: the node that ran it (its id in the rules route, its label and file:line), and what it did
     * ({@code addressed: to_agent}, {@code add}, {@code only}, {@code remove}).
     */
    public record Step(String nodeId, String label, String source, String action) {
    }

    private final Map<String, Step> addedBy = new LinkedHashMap<>();
    private final Map<String, Step> removedBy = new LinkedHashMap<>();

    /** A recipient step changed the recipients from {@code before} to {@code after}. */
    void changed(Exchange exchange, String action, Collection<String> before, Collection<String> after) {
        Step step = new Step(exchange.getExchangeExtension().getHistoryNodeId(),
                exchange.getExchangeExtension().getHistoryNodeLabel(), exchange.getExchangeExtension().getHistoryNodeSource(),
                action);
        for (String recipient : after) {
            if (!before.contains(recipient)) {
                addedBy.put(recipient, step);
                removedBy.remove(recipient);
            }
        }
        for (String recipient : before) {
            if (!after.contains(recipient)) {
                removedBy.put(recipient, step);
                addedBy.remove(recipient);
            }
        }
    }

    /** The step that last added this recipient, or null (set by hand in a rule, not through the recipients bean). */
    public Step addedBy(String recipient) {
        return addedBy.get(recipient);
    }

    /** Recipients added and removed again, each with the step that removed it, in the order they were removed. */
    public List<Map.Entry<String, Step>> removed() {
        return new ArrayList<>(removedBy.entrySet());
    }
}
