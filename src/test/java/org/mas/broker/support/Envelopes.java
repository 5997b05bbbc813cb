package org.mas.broker.support;

import java.util.UUID;

/** Envelopes for tests. */
public final class Envelopes {

    private Envelopes() {
    }

    public static String uniqueAgent(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public static String to(String from, String to) {
        return "{\"from_agent\":\"" + from + "\",\"to_agent\":\"" + to + "\",\"message_type\":\"request\",\"payload\":{\"n\":1}}";
    }

    public static String withId(String id, String from, String to) {
        return "{\"id\":\"" + id + "\",\"from_agent\":\"" + from + "\",\"to_agent\":\"" + to
                + "\",\"message_type\":\"request\",\"payload\":{\"n\":1}}";
    }
}
