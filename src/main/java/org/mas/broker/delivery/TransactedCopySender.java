package org.mas.broker.delivery;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jakarta.jms.ConnectionFactory;
import jakarta.jms.DeliveryMode;
import jakarta.jms.JMSException;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.springframework.jms.connection.JmsResourceHolder;
import org.springframework.transaction.support.TransactionSynchronizationManager;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.LedgerRecorder;
import org.mas.broker.envelope.CopyProperties;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.queues.CaseInsensitiveHeaderFilterStrategy;
import org.mas.broker.queues.AgentQueueActivity;
import org.mas.broker.queues.JmsConnections;

/**
 * The agent-queue delivery of a message in a shared transaction (a {@code jms-batch} batch or a REST batch: the bulk
 * of the traffic): every copy goes out through the batch's own transacted session and one cached producer, without
 * Camel's JMS binding, so it commits or rolls back with the batch. The copies are the same as the
 * deliver-to-agent-queues route makes (body, properties, priority, expiration, duplicate id), with the same ledger
 * steps and metrics; that route handles every other exchange (a REST request tried alone, a file, a redelivered or
 * replayed message). A send in a transaction does not fail on its own: what goes wrong
 * surfaces at the commit, which rolls the batch back; its messages then come again, and as redeliveries they take the
 * route, with its per-copy retries. Bean name {@code transactedCopies}.
 */
public class TransactedCopySender {


    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TransactedCopySender.class);

    private final ConnectionFactory transactedConnectionFactory;
    private final AgentQueueActivity activity;
    private final LedgerRecorder ledger;
    private final java.util.function.Consumer<Exchange> queued;

    public TransactedCopySender(ConnectionFactory transactedConnectionFactory, AgentQueueActivity activity,
                                LedgerRecorder ledger, java.util.function.Consumer<Exchange> queued) {
        this.transactedConnectionFactory = transactedConnectionFactory;
        this.activity = activity;
        this.ledger = ledger;
        this.queued = queued;
    }

    /**
     * Marks a first delivery consumed in a batch transaction (called by JMS ingress): the deliver-to-agent-queues
     * route then sends its copies here. A redelivery, a replay, any other ingress is not marked.
     */
    public static void markIfInBatch(Exchange exchange) {
        if (exchange.getProperty(MasNames.PROPERTY_AFTER_COMMIT) != null
                && JmsConnections.TRANSACTED_COMPONENT.equals(exchange.getProperty(MasNames.PROPERTY_SENDER))) {
            exchange.setProperty(MasNames.PROPERTY_TRANSACTED_COPIES, Boolean.TRUE);
        }
    }

    /**
     * Sends every copy in the batch's transaction. If one cannot be sent, the exchange is marked rollback-only rather
     * than retried here (a retry would send the earlier copies twice in one transaction): the batch is rolled back and
     * redelivered, and the route then sends copy by copy with its retries.
     */
    public void send(Exchange exchange) {
        try {
            sendInBatch(exchange);
        } catch (JMSException | RuntimeException e) {
            LOG.warn("Sending the copies of {} in its batch failed, the batch is rolled back: {}",
                    exchange.getIn().getHeader(MasNames.HEADER_ID), e.toString());
            exchange.setRollbackOnly(true);
        }
    }

    private void sendInBatch(Exchange exchange) throws JMSException {
        JmsResourceHolder holder = (JmsResourceHolder) TransactionSynchronizationManager.getResource(transactedConnectionFactory);
        if (holder == null) {
            throw new IllegalStateException("no batch transaction bound to this thread");
        }
        Session session = holder.getSession(Session.class);
        MessageProducer producer = session.createProducer(null); // cached by the session (one per session)
        Message in = exchange.getIn();
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        @SuppressWarnings("unchecked")
        List<String> recipients = in.getHeader(MasNames.HEADER_RECIPIENTS, List.class);
        String body = envelope.toJson();
        int priority = in.getHeader("JMSPriority", 4, Integer.class);
        long expiration = in.getHeader("JMSExpiration", 0L, Long.class);
        in.removeHeader(MasNames.HEADER_RECIPIENTS);
        // what the route would map to JMS properties: its headers (mas_id, mas_from, ..., and any a routing rule set),
        // but none of Camel's or JMS's own
        Map<String, Object> properties = new LinkedHashMap<>();
        in.getHeaders().forEach((name, value) -> {
            if (!CaseInsensitiveHeaderFilterStrategy.isCamelHeader(name) && !name.regionMatches(true, 0, "JMS", 0, 3)
                    && javax.lang.model.SourceVersion.isIdentifier(name)
                    && (value instanceof String || value instanceof Number || value instanceof Boolean)) {
                properties.put(name, value);
            }
        });
        for (String agent : recipients) {
            String queue = MasNames.recipientQueue(agent);
            activity.sendingTo(agent);
            TextMessage copy = session.createTextMessage(body);
            for (Map.Entry<String, Object> property : properties.entrySet()) {
                copy.setObjectProperty(property.getKey(), property.getValue());
            }
            Map<String, Object> recipient = new LinkedHashMap<>();
            CopyProperties.forRecipient(recipient::put, agent, CopyProperties.duplicateId(envelope.getId(), agent, null));
            for (Map.Entry<String, Object> property : recipient.entrySet()) {
                copy.setObjectProperty(property.getKey(), property.getValue());
            }
            long timeToLive = 0;
            if (expiration > 0) {
                timeToLive = Math.max(1, expiration - System.currentTimeMillis()); // already due: expires at once
            }
            producer.send(session.createQueue(queue), copy, DeliveryMode.PERSISTENT, priority, timeToLive);
            in.setHeader(MasNames.HEADER_TARGET, queue); // the recipient of the steps recorded next
            ledger.queued(exchange);
            queued.accept(exchange); // what the route's metrics step does after each copy
        }
    }
}
