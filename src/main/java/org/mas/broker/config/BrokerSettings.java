package org.mas.broker.config;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonCreator;

/**
 * The module's settings: the {@code message_broker} section of {@code config/message-broker.yaml}, in the shape of the
 * module's documentation plus this broker's extension keys. Defaults live in {@code message-broker-defaults.yaml}.
 */
public record BrokerSettings(
        String id,
        String name,
        List<String> capabilities,
        List<String> relationships,
        Databases databases,
        int routingInterval,
        int cleanupInterval,
        AlertThresholds alertThresholds,
        String dataDir,
        List<ApiKey> apiKeys,
        long maxMessageSize,
        String brokerUrl,
        List<Agent> agents,
        Redelivery redelivery,
        int ackTimeout,
        long ledgerRetention,
        Backlog backlog,
        long idleQueueTimeout,
        Security security,
        Cluster cluster) {

    public static final String BEAN_NAME = "brokerSettings";

    /** The development key shipped in config/message-broker.yaml; the broker warns while it is accepted. */
    public static final String DEVELOPMENT_API_KEY = "mas-dev-key-change-me";

    public boolean embeddedBroker() {
        return brokerUrl == null || brokerUrl.isBlank();
    }

    /**
     * enabled: this router is one of several sharing one broker (pair) and one ledger; instanceId names it (empty:
     * host name and process id, see {@link #instanceId()}).
     */
    public record Cluster(boolean enabled, String instanceId) {
    }

    /** This router's name among several: cluster.instance_id, or host-pid when that is empty. */
    public String instanceId() {
        if (cluster != null && cluster.instanceId() != null && !cluster.instanceId().isBlank()) {
            return cluster.instanceId();
        }
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            host = "router";
        }
        return host + "-" + ProcessHandle.current().pid();
    }

    public boolean clustered() {
        return cluster != null && cluster.enabled();
    }

    /** max_depth: messages in one agent queue past which new ones for it are refused; 0 = 10 x queue_size. */
    public record Backlog(long maxDepth) {
    }

    /** The hard backlog limit per agent queue. */
    public long backlogLimit() {
        return backlog.maxDepth() > 0 ? backlog.maxDepth() : 10L * alertThresholds.queueSize();
    }

    public record Databases(String messages, String queues, String delivery) {
    }

    public record AlertThresholds(int queueSize, long deliveryLatency, double failureRate, int retryCount) {
    }

    /** Camel's redelivery policy for routing and delivery failures: exponential back-off, retry_count times. */
    public record Redelivery(long initialDelayMs, double backoffMultiplier, long maxDelayMs) {
    }

    /**
     * An agent declared in configuration (the registry also holds those registered through the API): its secret as a
     * bcrypt hash (null: it cannot connect), the capabilities it offers, its roles, and an endpoint that makes it an
     * external system reached over HTTP.
     */
    public record Agent(String id, String endpoint, String secretHash, List<String> capabilities, List<String> roles) {
        public Agent {
            capabilities = capabilities == null ? List.of() : List.copyOf(capabilities);
            roles = roles == null ? List.of() : List.copyOf(roles);
        }

        public Agent(String id, String endpoint) {
            this(id, endpoint, null, List.of(), List.of());
        }

        @JsonCreator
        public static Agent of(String id) {
            return new Agent(id, null);
        }

        @Override
        public String toString() {
            return "Agent[" + id + (endpoint == null ? "" : ", " + endpoint) + ", capabilities=" + capabilities + ", roles="
                    + roles + "]";
        }
    }

    /**
     * A REST API key, the name that audit records show for it, its scopes (send, read, operate, admin; every scope
     * when none is given) and the from_agent ids it may send as (null: any).
     */
    public record ApiKey(String name, String key, List<String> scopes, List<String> agents) {
        public ApiKey {
            scopes = scopes == null ? org.mas.broker.MasNames.SCOPES : List.copyOf(scopes);
            agents = agents == null ? null : List.copyOf(agents);
        }

        public ApiKey(String name, String key) {
            this(name, key, null, null);
        }

        public boolean hasScope(String scope) {
            return scopes.contains(scope);
        }

        @Override
        public String toString() {
            return "ApiKey[" + name + ", scopes=" + scopes + (agents == null ? "" : ", agents=" + agents) + "]";
        }
    }

    /**
     * allow_anonymous: connections without credentials are let in (with every permission, as before identities
     * existed); tls: a PKCS12 keystore that makes the embedded acceptor and the REST API speak TLS only.
     */
    public record Security(boolean allowAnonymous, Tls tls) {
        public boolean tlsEnabled() {
            return tls != null && tls.keystore() != null && !tls.keystore().isBlank();
        }
    }

    public record Tls(String keystore, String keystorePassword) {
        @Override
        public String toString() {
            return "Tls[" + keystore + "]";
        }
    }
}
