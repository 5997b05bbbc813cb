package org.mas.broker.queues;

import java.util.Locale;

import org.apache.camel.Exchange;
import org.apache.camel.component.jms.JmsHeaderFilterStrategy;

/**
 * Camel's JMS header filter matches "Camel*" case-sensitively in 4.18.0 (CVE-2026-40453), so a JMS property named
 * "cAmElJmsDestinationName" would reach the exchange as a header that steers Camel. This strategy filters every
 * property whose name starts with "camel" or "org.apache.camel." in any case, in both directions.
 */
public class CaseInsensitiveHeaderFilterStrategy extends JmsHeaderFilterStrategy {

    public CaseInsensitiveHeaderFilterStrategy() {
        setLowerCase(true);
        setCaseInsensitive(true);
    }

    @Override
    protected boolean extendedFilter(Direction direction, String key, Object value, Exchange exchange) {
        return isCamelHeader(key) || super.extendedFilter(direction, key, value, exchange);
    }

    public static boolean isCamelHeader(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return lower.startsWith("camel") || lower.startsWith("org.apache.camel.");
    }
}
