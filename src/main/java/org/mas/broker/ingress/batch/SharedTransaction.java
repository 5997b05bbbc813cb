package org.mas.broker.ingress.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.JMSException;
import jakarta.jms.Session;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jms.connection.JmsResourceHolder;
import org.springframework.transaction.support.TransactionSynchronizationManager;

import org.mas.broker.BeforeCommit;
import org.mas.broker.MasNames;

/**
 * One local JMS transaction shared by the exchanges of a batch, on one thread: the JMS ingress's batches
 * ({@link BatchJmsConsumer}) and the REST ingress's ({@link RestBatches}). While it is open its session is bound to
 * the thread as the transactional session of the connection factory, the way Spring's listener container exposes its
 * own, so the route's {@code jms:} sends (and {@code TransactedCopySender}'s) use it and do not commit on their own.
 * <p>
 * An exchange that {@link #join joins} it hands over, in exchange properties, what must wait for the commit
 * ({@link MasNames#PROPERTY_AFTER_COMMIT}), what must run if the transaction does not commit
 * ({@link MasNames#PROPERTY_AFTER_ROLLBACK}) and what must be done once for all of them just before the commit
 * ({@link MasNames#PROPERTY_BEFORE_COMMIT}).
 */
final class SharedTransaction implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SharedTransaction.class);

    private final ConnectionFactory factory;
    private final Session session;
    private final List<Runnable> afterCommit = new ArrayList<>();
    private final List<Runnable> afterRollback = new ArrayList<>();
    private final BeforeCommit beforeCommit = new BeforeCommit();
    private final Consumer<Runnable> deferred = afterCommit::add;
    private final Consumer<Runnable> undone = afterRollback::add;
    private boolean committed;

    /** Binds {@code session} to this thread for {@code factory}'s sends until {@link #close}. */
    SharedTransaction(ConnectionFactory factory, Connection connection, Session session) {
        this.factory = factory;
        this.session = session;
        TransactionSynchronizationManager.bindResource(factory, new JmsResourceHolder(factory, connection, session));
    }

    /** Makes the exchange part of this transaction: what it sends commits or rolls back with the others. */
    void join(Exchange exchange) {
        exchange.getExchangeExtension().setTransacted(true);
        exchange.setProperty(MasNames.PROPERTY_AFTER_COMMIT, deferred);
        exchange.setProperty(MasNames.PROPERTY_AFTER_ROLLBACK, undone);
        exchange.setProperty(MasNames.PROPERTY_BEFORE_COMMIT, beforeCommit);
    }

    /**
     * Runs the steps that must precede the commit, then commits. A failure of either rolls everything back.
     *
     * @return true if committed; false if rolled back (logged, with {@code what} the transaction held)
     */
    boolean commit(String what) {
        try {
            beforeCommit.run();
        } catch (RuntimeException e) {
            rollback(what, "a step before its commit failed: " + e);
            return false;
        }
        try {
            session.commit();
            committed = true;
            return true;
        } catch (JMSException e) {
            // the broker rolled the transaction back (a duplicate id in it, a full address). If the connection was lost
            // during the commit its outcome is unknown: duplicate ids keep the copies of a second attempt single.
            LOG.warn("Commit of {} failed, nothing of it is accepted: {}", what, e.toString());
            rollbackQuietly(session);
            return false;
        }
    }

    /** Rolls back what the transaction holds, logged with the reason. */
    void rollback(String what, String reason) {
        LOG.warn("Rolled back {}: {}", what, reason);
        rollbackQuietly(session);
    }

    /** Unbinds the session; then runs the after-commit steps if it committed, the after-rollback steps otherwise. */
    @Override
    public void close() {
        TransactionSynchronizationManager.unbindResource(factory);
        runAll(committed ? afterCommit : afterRollback, committed ? "after-commit" : "after-rollback");
    }

    static void rollbackQuietly(Session session) {
        try {
            session.rollback();
        } catch (JMSException | RuntimeException e) {
            LOG.debug("Rollback failed too: {}", e.toString());
        }
    }

    private static void runAll(List<Runnable> actions, String what) {
        for (Runnable action : actions) {
            try {
                action.run();
            } catch (RuntimeException e) {
                LOG.warn("An {} step failed: {}", what, e.toString());
            }
        }
    }
}
