package org.mas.broker.ingress.batch;

import java.util.Map;

import jakarta.jms.ConnectionFactory;
import org.apache.camel.Endpoint;
import org.apache.camel.support.DefaultComponent;

/**
 * {@code jms-batch:queue:<name>}: consumes a queue in local JMS transactions of up to {@code maxBatchSize} messages,
 * one exchange per message, and commits once per batch. The route's sends through the {@code jms} component join the
 * batch's transaction (they share its connection factory), so what a message became and its consumption commit
 * together; one commit, one journal sync, for the whole batch. Camel's own JMS consumer commits once per message.
 */
public class BatchJmsComponent extends DefaultComponent {

    public static final String SCHEME = "jms-batch";

    private final ConnectionFactory connectionFactory;

    /** @param connectionFactory the connection factory of the JMS component whose sends must join the transaction */
    public BatchJmsComponent(ConnectionFactory connectionFactory) {
        this.connectionFactory = connectionFactory;
    }

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        String queue = remaining.startsWith("queue:") ? remaining.substring("queue:".length()) : remaining;
        if (queue.isBlank()) {
            throw new IllegalArgumentException(SCHEME + ": a queue name is required, e.g. " + SCHEME + ":queue:mas.inbound");
        }
        BatchJmsEndpoint endpoint = new BatchJmsEndpoint(uri, this, queue);
        setProperties(endpoint, parameters);
        return endpoint;
    }

    ConnectionFactory connectionFactory() {
        return connectionFactory;
    }
}
