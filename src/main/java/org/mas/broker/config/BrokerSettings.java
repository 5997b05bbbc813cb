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
        long idleQueueTimeout) {

    public static final String BEAN_NAME = "brokerSettings";

    /** The development key shipped in config/message-broker.yaml; the broker warns while it is accepted. */
    public static final String DEVELOPMENT_API_KEY = "mas-dev-key-change-me";

    public boolean embeddedBroker() {
        return brokerUrl == null || brokerUrl.isBlank();
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

    /** An agent the broker knows; an endpoint makes it an external system reached over HTTP. */
    public record Agent(String id, String endpoint) {
        @JsonCreator
        public static Agent of(String id) {
            return new Agent(id, null);
        }
    }

    /** A REST API key and the name that audit records show for it. */
    public record ApiKey(String name, String key) {
        @Override
        public String toString() {
            return "ApiKey[" + name + "]";
        }
    }
}
