package org.mas.broker.queues;

import java.util.ArrayList;
import java.util.List;

import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TemporaryQueue;
import org.apache.activemq.artemis.api.core.management.ResourceNames;
import org.apache.activemq.artemis.api.jms.management.JMSManagementHelper;

/**
 * Asks the broker through Artemis's management address (request and reply over JMS), which works the same for the
 * embedded broker and an external one.
 */
public class BrokerManagement {

    public static final String MANAGEMENT_ADDRESS = "activemq.management";

    private static final long REPLY_TIMEOUT_MS = 10_000;

    private final ConnectionFactory connectionFactory;

    public BrokerManagement(ConnectionFactory connectionFactory) {
        this.connectionFactory = connectionFactory;
    }

    /** The names of every anycast queue on the broker. */
    public List<String> anycastQueueNames() {
        Object result = invoke(ResourceNames.BROKER, "getQueueNames", "ANYCAST");
        List<String> names = new ArrayList<>();
        if (result instanceof Object[] array) {
            for (Object name : array) {
                names.add(String.valueOf(name));
            }
        }
        return names;
    }

    public Object invoke(String resource, String operation, Object... parameters) {
        try (Connection connection = connectionFactory.createConnection();
             Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE)) {
            TemporaryQueue replyQueue = session.createTemporaryQueue();
            MessageConsumer replies = session.createConsumer(replyQueue);
            connection.start();
            Message request = session.createMessage();
            request.setJMSReplyTo(replyQueue);
            JMSManagementHelper.putOperationInvocation(request, resource, operation, parameters);
            session.createProducer(session.createQueue(MANAGEMENT_ADDRESS)).send(request);
            Message reply = replies.receive(REPLY_TIMEOUT_MS);
            if (reply == null) {
                throw new BrokerManagementException(operation + ": no reply from the broker");
            }
            if (!JMSManagementHelper.hasOperationSucceeded(reply)) {
                throw new BrokerManagementException(operation + " failed: " + JMSManagementHelper.getResult(reply));
            }
            return JMSManagementHelper.getResult(reply);
        } catch (BrokerManagementException e) {
            throw e;
        } catch (Exception e) {
            throw new BrokerManagementException(operation + " failed: " + e.getMessage(), e);
        }
    }

    public static class BrokerManagementException extends RuntimeException {
        public BrokerManagementException(String message) {
            super(message);
        }

        public BrokerManagementException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
