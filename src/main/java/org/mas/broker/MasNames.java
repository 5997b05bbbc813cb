package org.mas.broker;

/**
 * The one place that names the broker's Artemis addresses and message properties (contract sections 1 and 2).
 * Routes reach the queue names as property placeholders ({{mas.queue.inbound}}, ...), registered from here at start-up.
 */
public final class MasNames {

    public static final String INBOUND = "mas.inbound";
    public static final String AGENT_QUEUE_PREFIX = "mas.agent.";
    public static final String ACKS = "mas.acks";
    public static final String INVALID = "mas.invalid";
    public static final String DLQ = "mas.dlq";
    public static final String EXPIRED = "mas.expired";
    public static final String ALERTS = "mas.alerts";
    /** The broker's expiry address: the router records what arrives there, then moves it on to mas.expired. */
    public static final String EXPIRED_LEDGER = "mas.expired.ledger";

    /**
     * An agent id: letters, digits and {@code : _ . -}, but never {@code ::}, which Artemis reads as
     * address::queue (so an id could otherwise name a queue of its own choosing).
     */
    public static final String AGENT_ID_REGEX = "^(?!.*::)[A-Za-z0-9:_.-]{1,256}$";
    public static final java.util.regex.Pattern AGENT_ID = java.util.regex.Pattern.compile(AGENT_ID_REGEX);

    /** The recipient id that addresses every known agent. */
    public static final String BROADCAST = "broadcast";

    // JMS properties on what the broker puts on a queue (valid Java identifiers, so every protocol sees them)
    public static final String HEADER_ID = "mas_id";
    public static final String HEADER_FROM = "mas_from";
    public static final String HEADER_TYPE = "mas_type";
    public static final String HEADER_CORRELATION_ID = "mas_correlation_id";
    public static final String HEADER_REQUIRES_ACK = "mas_requires_ack";
    public static final String HEADER_INGRESS = "mas_ingress";
    public static final String HEADER_ERROR = "mas_error";
    public static final String HEADER_ATTEMPTS = "mas_attempts";
    public static final String HEADER_TARGET = "mas_target";
    /** Artemis duplicate detection id (org.apache.activemq.artemis.api.core.Message.HDR_DUPLICATE_DETECTION_ID). */
    public static final String HEADER_DUPLICATE_ID = "_AMQ_DUPL_ID";

    // Exchange-internal headers and properties (never read from the outside: every ingress strips foreign headers)
    /** Header: the agent ids one message goes to, a List of String, set by the routing rules. */
    public static final String HEADER_RECIPIENTS = "mas_recipients";
    /** Exchange property: the parsed, normalized {@link org.mas.broker.envelope.Envelope}. */
    public static final String PROPERTY_ENVELOPE = "envelope";
    /** Exchange property: the JMS component that sends for this exchange ("jms" or "jmsNonTx"). */
    public static final String PROPERTY_SENDER = "masSender";
    /**
     * Exchange property: the id an envelope without one gets, derived from what carried it (JMS message id, file),
     * so that a redelivery of the same input gets the same id and Artemis's duplicate detection still works.
     */
    public static final String PROPERTY_DEFAULT_ID = "masDefaultId";
    /**
     * On an exchange consumed in a transaction of several messages: a {@code Consumer<Runnable>} that runs what it is
     * given once that transaction has committed (and never if it rolls back).
     */
    public static final String PROPERTY_AFTER_COMMIT = "masAfterCommit";
    /** Exchange property: a replay "as it was" goes only to these agents (a Set), those whose copies were parked. */
    public static final String PROPERTY_REPLAY_TARGETS = "masReplayTargets";
    /** Exchange property: where the file ingress moves a processed file (".done" or ".error"). */
    public static final String PROPERTY_FILE_OUTCOME = "masFileOutcome";

    // Ingress names, as they appear in mas_ingress
    public static final String INGRESS_JMS = "jms";
    public static final String INGRESS_REST = "rest";
    public static final String INGRESS_FILE = "file";

    private MasNames() {
    }

    public static String agentQueue(String agentId) {
        return AGENT_QUEUE_PREFIX + agentId;
    }
}
