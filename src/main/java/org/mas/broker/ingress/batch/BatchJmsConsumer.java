package org.mas.broker.ingress.batch;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.DefaultConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;


/**
 * The exchange's body is the JMS message itself, with no header mapped from it: whatever the route needs it reads from
 * the message, so that no property a sender set can steer the route.
 * <p>
 * Each of {@code concurrentConsumers} threads owns a transacted session and a consumer on the queue, and loops:
 * wait for a message, then take what has already arrived behind it, up to {@code maxBatchSize}, processing each through
 * the route as it comes; then commit. A batch therefore grows with the load and is a single message when traffic is
 * light, so latency stays low.
 * <p>
 * While a batch runs, its session is the thread's {@link SharedTransaction}: the route's {@code jms:} sends join it, and
 * whatever must wait for the commit runs only once the commit succeeded.
 * <p>
 * An exchange that fails (an exception the route did not handle, or marked rollback-only) rolls the whole batch back:
 * every message of it is redelivered, and nothing it sent stays. Then every consumer thread takes the next
 * {@code maxBatchSize} messages one per transaction, and a redelivered message always has a transaction of its own,
 * so that a message that fails again fails alone and the others are not charged more delivery attempts (mas.inbound
 * allows retry_count + 2). A commit that fails does the same.
 */
class BatchJmsConsumer extends DefaultConsumer {

    private static final Logger LOG = LoggerFactory.getLogger(BatchJmsConsumer.class);
    private static final long RECEIVE_TIMEOUT_MS = 500;

    private volatile boolean running;
    /** After a rollback every consumer thread takes messages one per transaction, this many times. */
    private final java.util.concurrent.atomic.AtomicInteger singlesLeft = new java.util.concurrent.atomic.AtomicInteger();
    private volatile CountDownLatch stopped = new CountDownLatch(1);
    private ExecutorService threads;

    BatchJmsConsumer(BatchJmsEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
    }

    @Override
    public BatchJmsEndpoint getEndpoint() {
        return (BatchJmsEndpoint) super.getEndpoint();
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        running = true;
        stopped = new CountDownLatch(1);
        BatchJmsEndpoint endpoint = getEndpoint();
        threads = endpoint.getCamelContext().getExecutorServiceManager()
                .newFixedThreadPool(this, "JmsBatchConsumer[" + endpoint.getQueue() + "]", endpoint.getConcurrentConsumers());
        for (int i = 0; i < endpoint.getConcurrentConsumers(); i++) {
            threads.execute(this::consumeUntilStopped);
        }
    }

    /** Lets every thread finish (and commit) the batch it is in, then stops. */
    @Override
    protected void doStop() throws Exception {
        running = false;
        stopped.countDown();
        if (threads != null) {
            getEndpoint().getCamelContext().getExecutorServiceManager().shutdownGraceful(threads, 30_000);
            threads = null;
        }
        super.doStop();
    }

    private void consumeUntilStopped() {
        while (running) {
            try {
                consumeWithOneSession();
            } catch (Exception | Error e) { // a thread that died would shrink the ingress silently
                if (!running) {
                    return;
                }
                LOG.warn("Consuming {} failed, starting again in {} ms: {}", getEndpoint().getQueue(),
                        getEndpoint().getRecoveryInterval(), e.toString());
                try {
                    stopped.await(getEndpoint().getRecoveryInterval(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void consumeWithOneSession() throws JMSException {
        ConnectionFactory factory = getEndpoint().getComponent().connectionFactory();
        try (Connection connection = factory.createConnection();
             Session session = connection.createSession(true, Session.SESSION_TRANSACTED);
             MessageConsumer consumer = session.createConsumer(session.createQueue(getEndpoint().getQueue()))) {
            connection.start();
            try {
                while (running) {
                    Message first = consumer.receive(RECEIVE_TIMEOUT_MS);
                    if (first == null) {
                        continue;
                    }
                    // a redelivery, or any message while the consumers are in single mode, has a transaction of its own
                    boolean single = singlesLeft.get() > 0 || first.getJMSRedelivered();
                    if (runBatch(factory, connection, session, consumer, first, single ? 1 : getEndpoint().getMaxBatchSize())) {
                        singlesLeft.updateAndGet(n -> Math.max(0, n - 1));
                    } else {
                        singlesLeft.set(getEndpoint().getMaxBatchSize());
                    }
                }
            } catch (Exception | Error e) {
                SharedTransaction.rollbackQuietly(session); // nothing of a failed batch may ride on the next commit of this cached session
                throw e;
            }
        }
    }

    /** @return true if the batch committed, false if it was rolled back */
    private boolean runBatch(ConnectionFactory factory, Connection connection, Session session, MessageConsumer consumer,
                             Message first, int limit) throws JMSException {
        int processed = 0;
        try (SharedTransaction transaction = new SharedTransaction(factory, connection, session)) {
            for (Message message = first; message != null; ) {
                processed++;
                Exchange exchange = createExchange(false);
                exchange.getIn().setBody(message); // the JMS message itself: the route reads what it needs from it
                transaction.join(exchange);
                try {
                    getProcessor().process(exchange);
                } catch (Exception e) {
                    exchange.setException(e);
                } catch (Error e) {
                    exchange.setException(new IllegalStateException(e.toString(), e));
                }
                Exception failure = exchange.getException();
                boolean rollbackOnly = exchange.isRollbackOnly();
                releaseExchange(exchange, false);
                if (failure != null || rollbackOnly) {
                    transaction.rollback(batch(processed), (failure != null ? failure.toString() : "marked rollback-only")
                            + "; they are redelivered, one per transaction for a while");
                    return false;
                }
                message = processed < limit && running ? consumer.receiveNoWait() : null;
            }
            // a failed commit: the broker redelivers them all
            return transaction.commit(batch(processed));
        }
    }

    private String batch(int messages) {
        return "a batch of " + messages + " message(s) from " + getEndpoint().getQueue();
    }

}
