package org.mas.broker.queues;

import jakarta.jms.ConnectionFactory;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.component.jms.JmsComponent;
import org.apache.camel.component.jms.JmsConfiguration;
import org.springframework.jms.connection.CachingConnectionFactory;

import org.mas.broker.queues.CaseInsensitiveHeaderFilterStrategy;

/**
 * The router's JMS plumbing: one Artemis connection factory, and two Camel JMS components over connections that are
 * opened once and reused (sessions and producers cached).
 * <ul>
 * <li>{@code jms}: sends from a thread that consumes in a local transaction (its own consumers, or {@code jms-batch}'s
 * over the same connection factory) join that transaction, so the consume and the sends commit together.</li>
 * <li>{@code jmsNonTx}: sends outside any consuming transaction, each send confirmed by the broker before it returns.
 * Used to forward a redelivered message, whose duplicates Artemis drops silently only outside a transaction.</li>
 * </ul>
 */
public final class JmsConnections {

    public static final String TRANSACTED_COMPONENT = "jms";
    public static final String NON_TRANSACTED_COMPONENT = "jmsNonTx";

    private final ActiveMQConnectionFactory artemis;
    private final CachingConnectionFactory transacted;
    private final CachingConnectionFactory nonTransacted;

    public JmsConnections(String brokerUrl, String user, String password, int sessionCacheSize) {
        artemis = new ActiveMQConnectionFactory(brokerUrl, emptyToNull(user), emptyToNull(password));
        artemis.setDeserializationDenyList("*"); // the router never reads ObjectMessage bodies
        artemis.setBlockOnDurableSend(true); // a send outside a transaction returns once the broker has it
        artemis.setCacheDestinations(true); // no queue look-up round trip before each send to an agent queue
        // While an external broker is down, every connection attempt fails, and once the client has learned the
        // broker's topology it pauses retryInterval (2 s by default) before failing; the shared connection's attempts
        // are serialized, so with the default a REST request took 60 s to get its 503 (BrokerOutageTest). No
        // reconnection is done inside the client (reconnectAttempts 0): the consumers recover and each send opens
        // the shared connection again, so a short pause costs nothing once the broker is back.
        artemis.setRetryInterval(100);
        transacted = caching(artemis, sessionCacheSize);
        nonTransacted = caching(artemis, sessionCacheSize);
    }

    private static CachingConnectionFactory caching(ConnectionFactory target, int sessionCacheSize) {
        CachingConnectionFactory factory = new CachingConnectionFactory(target);
        factory.setSessionCacheSize(sessionCacheSize);
        factory.setCacheProducers(true);
        factory.setCacheConsumers(false);
        factory.setReconnectOnException(true);
        return factory;
    }

    /** The connection factory of the {@code jms} component: a session bound to it for a thread is what its sends use. */
    public ConnectionFactory transactedConnectionFactory() {
        return transacted;
    }

    public ActiveMQConnectionFactory artemisConnectionFactory() {
        return artemis;
    }

    public JmsComponent transactedComponent() {
        return component(transacted);
    }

    public JmsComponent nonTransactedComponent() {
        return component(nonTransacted);
    }

    private static JmsComponent component(ConnectionFactory factory) {
        JmsConfiguration configuration = new JmsConfiguration(factory);
        configuration.setLazyCreateTransactionManager(false); // local session transactions, no transaction manager
        configuration.setCacheLevelName("CACHE_CONSUMER");
        configuration.setPreserveMessageQos(true); // JMSPriority, JMSExpiration, JMSDeliveryMode from headers
        configuration.setDeliveryPersistent(true);
        configuration.setRecoveryInterval(1000); // a consumer whose commit failed is back within a second
        JmsComponent component = new JmsComponent(configuration);
        component.setHeaderFilterStrategy(new CaseInsensitiveHeaderFilterStrategy());
        return component;
    }

    /** Closes the shared connections; called before the embedded broker stops. */
    public void close() {
        transacted.destroy();
        nonTransacted.destroy();
        artemis.close();
    }

    private static String emptyToNull(String value) {
        return value == null || value.isEmpty() ? null : value;
    }
}
