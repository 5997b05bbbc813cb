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
    /** One anycast queue per capability: every agent registered with it consumes there (competing consumers). */
    public static final String CAPABILITY_QUEUE_PREFIX = "mas.capability.";
    /** The broker's expiry address: the router records what arrives there, then moves it on to mas.expired. */
    public static final String EXPIRED_LEDGER = "mas.expired.ledger";

    /**
     * An agent id: letters, digits and {@code : _ . -}, but never {@code ::}, which Artemis reads as
     * address::queue (so an id could otherwise name a queue of its own choosing).
     */
    public static final String AGENT_ID_REGEX = "^(?!.*::)[A-Za-z0-9:_.-]{1,256}$";
    public static final java.util.regex.Pattern AGENT_ID = java.util.regex.Pattern.compile(AGENT_ID_REGEX);

    /**
     * A message id, and the one character set of every id the broker stores or forwards (correlation, trace and
     * conversation ids too): ASCII letters, digits and {@code : _ . -}. The schema, both databases (which count
     * characters beyond ASCII differently, and PostgreSQL refuses NUL), Artemis properties, STOMP headers and URL paths
     * all take such a string as it is and count its length alike. Checked with {@link #isMessageId}.
     */
    public static final String MESSAGE_ID_REGEX = "^[A-Za-z0-9:_.-]{1,128}$";
    /** The same character set for ids of other things (a correlated message, a trace, a conversation), at most 256. */
    public static final String REFERENCE_REGEX = "^[A-Za-z0-9:_.-]{1,256}$";
    private static final java.util.regex.Pattern MESSAGE_ID = java.util.regex.Pattern.compile(MESSAGE_ID_REGEX);

    /**
     * The most copies one message makes: the schema's limit of to_agents, and the cap of a broadcast or of what the
     * routing rules add (beyond it the message is unroutable: mas.dlq with the reason).
     */
    public static final int MAX_RECIPIENTS = 1000;

    /**
     * A capability name: ASCII letters, digits and {@code _ -}, in words joined by single dots, at most 128
     * characters; no Artemis wildcard ({@code # *}) and nothing MQTT or a URL path would read differently.
     */
    public static final String CAPABILITY_REGEX = "^(?=.{1,128}$)[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$";
    private static final java.util.regex.Pattern CAPABILITY = java.util.regex.Pattern.compile(CAPABILITY_REGEX);

    /**
     * The ledger's recipient for a message addressed to a capability: this prefix, then the capability. No agent id
     * starts with it where an agent is addressed (to_agent, to_agents, configured agents, queues, acknowledgments).
     */
    public static final String CAPABILITY_RECIPIENT_PREFIX = "capability:";

    /** The agent role that may subscribe to mas.alerts; the only role there is. */
    public static final String ROLE_MONITOR = "monitor";

    /** The route that takes one POST /api/messages through the message path, for RestBatches (routes/ingress/rest.yaml). */
    public static final String ENDPOINT_REST_MESSAGE_PATH = "direct:rest-message-path";

    /** The router's own user on the embedded broker: in-VM connections only, never an agent id. */
    public static final String ROUTER_USER = "mas-router";
    /**
     * The validated user of a connection without credentials (security.allow_anonymous): not a valid agent id, so it
     * never passes for one.
     */
    public static final String ANONYMOUS_USER = "(anonymous)";
    /** The user Artemis authenticated for the connection that sent a message (populate-validated-user). */
    public static final String HEADER_VALIDATED_USER = "_AMQ_VALIDATED_USER";
    /**
     * Who sent a message to mas.inbound or mas.acks: the user the broker authenticated for the sending session,
     * stamped by DurableIngressPlugin on every protocol's messages (Artemis's own validated user is not set on AMQP
     * messages), whatever the client wrote; absent when the session had none.
     */
    public static final String HEADER_SENDER = "mas_sender";

    /** API key scopes (contract section 7). */
    public static final String SCOPE_SEND = "send";
    public static final String SCOPE_READ = "read";
    public static final String SCOPE_OPERATE = "operate";
    public static final String SCOPE_ADMIN = "admin";
    public static final java.util.List<String> SCOPES = java.util.List.of(SCOPE_SEND, SCOPE_READ, SCOPE_OPERATE, SCOPE_ADMIN);

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
    /** Header: the recipients of one message (agent ids, "capability:&lt;name&gt;"), a List of String, set by the routing rules. */
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
    /** Exchange property: true when the envelope's id is a random UUID the broker gave it just now (none was sent). */
    public static final String PROPERTY_FRESH_ID = "masFreshId";
    /**
     * On an exchange consumed in a transaction of several messages: a {@code Consumer<Runnable>} that runs what it is
     * given once that transaction has committed (and never if it rolls back).
     */
    public static final String PROPERTY_AFTER_COMMIT = "masAfterCommit";
    /**
     * On an exchange consumed in a transaction of several messages: a {@code Consumer<Runnable>} that runs what it is
     * given if that transaction rolls back or its commit fails (the opposite of {@link #PROPERTY_AFTER_COMMIT}).
     */
    public static final String PROPERTY_AFTER_ROLLBACK = "masAfterRollback";
    /** On an exchange consumed in a transaction of several messages: its {@link BeforeCommit}. */
    public static final String PROPERTY_BEFORE_COMMIT = "masBeforeCommit";
    /** Exchange property: a replay "as it was" goes only to these agents (a Set), those whose copies were parked. */
    public static final String PROPERTY_REPLAY_TARGETS = "masReplayTargets";
    /** Exchange property: true on a recipient's copy that went to mas.dlq (its failed send is not a delivery). */
    public static final String PROPERTY_DEAD_LETTERED = "masDeadLettered";
    /** Exchange property: true for a message accepted before under its id with the same content (not sent again). */
    public static final String PROPERTY_DUPLICATE = "masDuplicate";
    /** Exchange property: where the file ingress moves a processed file (".done" or ".error"). */
    public static final String PROPERTY_FILE_OUTCOME = "masFileOutcome";

    /** Exchange property: how many times the current step was attempted (set by the redelivery hook). */
    public static final String PROPERTY_ATTEMPTS = "masAttempts";
    /** Exchange property set by a dead-letter replay (a token): its copies and dead letters get fresh duplicate ids. */
    public static final String PROPERTY_REPLAY = "masReplay";
    /** Exchange property: true when the copies go out through the batch's own session (TransactedCopySender). */
    public static final String PROPERTY_TRANSACTED_COPIES = "masTransactedCopies";
    /** Exchange property: the name of the API key a REST caller used, for audit records. */
    public static final String PROPERTY_API_KEY_NAME = "masApiKeyName";
    /**
     * Exchange property: the agent the broker authenticated for the connection that sent this message (Artemis's
     * validated user), set by the JMS ingress; from_agent must equal it. Absent for anonymous and router senders.
     */
    public static final String PROPERTY_AUTHENTICATED_AGENT = "masAuthenticatedAgent";
    /** Exchange property: what an audited REST call acted on (an agent id, a queue, a message id), for its audit record. */
    public static final String PROPERTY_AUDIT_TARGET = "masAuditTarget";
    /** Exchange property: the from_agent ids the REST caller's API key may send as (a Collection); absent = any. */
    public static final String PROPERTY_API_KEY_AGENTS = "masApiKeyAgents";
    /** Exchange property: the sender's own JMS properties, kept for the copy that goes to mas.invalid. */
    public static final String PROPERTY_ORIGINAL_PROPERTIES = "masOriginalProperties";
    /** Exchange property: the inbound JMS message id (stable across redeliveries), for the duplicate ids of what it becomes. */
    public static final String PROPERTY_INBOUND_MESSAGE_ID = "masInboundMessageId";
    /**
     * Exchange property, on a routing dry-run only (POST /api/routing/test): the {@link org.mas.broker.routing.RoutingTrace}
     * in which the recipient steps note which rule added or removed each recipient.
     */
    public static final String PROPERTY_ROUTING_TRACE = "masRoutingTrace";

    // Ingress names, as they appear in mas_ingress
    public static final String INGRESS_JMS = "jms";
    public static final String INGRESS_REST = "rest";
    public static final String INGRESS_FILE = "file";

    private MasNames() {
    }

    /** True for a valid message id ({@link #MESSAGE_ID_REGEX}); whole-string match, so no trailing line break passes. */
    public static boolean isMessageId(String id) {
        return id != null && MESSAGE_ID.matcher(id).matches();
    }

    /** True for a valid agent id ({@link #AGENT_ID_REGEX}); whole-string match. */
    public static boolean isAgentId(String id) {
        return id != null && AGENT_ID.matcher(id).matches();
    }

    public static String agentQueue(String agentId) {
        return AGENT_QUEUE_PREFIX + agentId;
    }

    /** True for a valid capability name ({@link #CAPABILITY_REGEX}). */
    public static boolean isCapability(String name) {
        return name != null && CAPABILITY.matcher(name).matches();
    }

    public static String capabilityQueue(String capability) {
        return CAPABILITY_QUEUE_PREFIX + capability;
    }

    /** The recipient (as the ledger and the routing rules name it) of a message addressed to a capability. */
    public static String capabilityRecipient(String capability) {
        return CAPABILITY_RECIPIENT_PREFIX + capability;
    }

    /** The capability a recipient names ("capability:&lt;name&gt;" -> name), or null for an agent. */
    public static String capabilityOf(String recipient) {
        return recipient != null && recipient.startsWith(CAPABILITY_RECIPIENT_PREFIX)
                ? recipient.substring(CAPABILITY_RECIPIENT_PREFIX.length()) : null;
    }

    /**
     * The one mapping of a recipient to its queue, used by every path that sends, resends, checks or dead-letters a
     * copy: "capability:&lt;name&gt;" -> mas.capability.&lt;name&gt;, an agent id -> mas.agent.&lt;id&gt;.
     */
    public static String recipientQueue(String recipient) {
        String capability = capabilityOf(recipient);
        return capability != null ? capabilityQueue(capability) : agentQueue(recipient);
    }

    /**
     * The inverse of {@link #recipientQueue}: the recipient whose queue this is, or null for any other queue (mas.dlq,
     * ...) and for one named after no valid recipient (such as mas.agent.capability:x, which no agent can have).
     */
    public static String queueRecipient(String queue) {
        if (queue == null) {
            return null;
        }
        if (queue.startsWith(AGENT_QUEUE_PREFIX)) {
            String agent = queue.substring(AGENT_QUEUE_PREFIX.length());
            return isAgentId(agent) && capabilityOf(agent) == null ? agent : null;
        }
        if (queue.startsWith(CAPABILITY_QUEUE_PREFIX)) {
            String capability = queue.substring(CAPABILITY_QUEUE_PREFIX.length());
            return isCapability(capability) ? capabilityRecipient(capability) : null;
        }
        return null;
    }
}
