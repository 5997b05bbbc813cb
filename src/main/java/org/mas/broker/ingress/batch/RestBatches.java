package org.mas.broker.ingress.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import jakarta.jms.JMSException;
import jakarta.jms.Session;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for {@code POST /api/messages}: the requests that are waiting at the same moment go through the message
 * path ({@code messagePath}, the route that runs {@code direct:accept} and sets the answer) in one local JMS
 * transaction: one commit, one journal sync, one session and producer for all of them. Each caller is answered
 * (202, 400, 409, 429) only once that transaction has committed, so a 202 still means that the message is on its
 * queue(s) or parked on mas.dlq. A batch is what has arrived while the previous one was being committed, up to
 * {@code maxBatchSize}: a single request when traffic is light, so latency stays low.
 * <p>
 * Each request goes through the path as a copy of its exchange (an attempt), and only the attempt that committed
 * answers it. If an attempt fails (the path could not complete it, or a copy could not be sent in the transaction) or
 * the commit fails, nothing of the batch stays (its after-rollback steps release its ids) and every request of it is
 * tried again alone, outside any shared transaction, the way a request went before batching: each copy a durable send
 * of its own with the route's retries. A failure then is the request's own, and is answered 503 (mas-rest). Requests
 * tried alone run on helper threads, side by side, so one that spends seconds in retries (a full queue, a broker
 * outage) holds up no batch; answers are completed on helper threads too. A step that Camel retries inside a batch (a
 * routing rule that throws) still holds up the rest of that batch for its retries, as in a JMS batch.
 * <p>
 * This is an {@link AsyncProcessor}: the step hands the request over and returns; the request's exchange is completed
 * by the batch's thread. (Camel 4.18's Vert.x HTTP consumer still waits for the exchange on a worker thread.)
 * Bean name {@code restBatches}.
 */
public class RestBatches extends AsyncProcessorSupport {

    private static final Logger LOG = LoggerFactory.getLogger(RestBatches.class);
    private static final long POLL_MS = 200;

    /** A waiting request; answered exactly once. */
    private record Request(Exchange exchange, AsyncCallback callback, java.util.concurrent.atomic.AtomicBoolean answered) {
        Request(Exchange exchange, AsyncCallback callback) {
            this(exchange, callback, new java.util.concurrent.atomic.AtomicBoolean());
        }
    }

    /**
     * Threads beside the batch threads: for requests tried alone (whose retries may take seconds: a full queue, a broker
     * outage) and for completing the answers (whatever runs before an answer leaves, such as the cluster's wait for the
     * ledger, runs there), so that neither holds up the next batch. As many as the HTTP server's worker threads, which
     * bound the requests in flight.
     */
    private static final int HELPERS = 20;

    private final CamelContext context;
    private final ConnectionFactory factory;
    private final String messagePath;
    private final int threads;
    private final int maxBatchSize;
    private final java.util.function.IntConsumer committed;
    private final BlockingQueue<Request> waiting = new LinkedBlockingQueue<>();
    private volatile boolean running;
    private ExecutorService pool;
    private ExecutorService alone;
    private ExecutorService answers;
    private ProducerTemplate template;

    /**
     * @param factory     the connection factory whose thread-bound session the {@code jms:} sends join
     * @param messagePath the endpoint of the route that takes one request through the message path
     * @param committed   told the number of requests of each transaction that committed
     */
    public RestBatches(CamelContext context, ConnectionFactory factory, String messagePath, int threads, int maxBatchSize,
                       java.util.function.IntConsumer committed) {
        if (threads < 1 || maxBatchSize < 1) {
            throw new IllegalArgumentException("REST batches need at least one thread and a batch size of at least 1");
        }
        this.context = context;
        this.factory = factory;
        this.messagePath = messagePath;
        this.threads = threads;
        this.maxBatchSize = maxBatchSize;
        this.committed = committed;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        if (!running) {
            exchange.setException(new IllegalStateException("the REST ingress is stopping"));
            callback.done(true);
            return true;
        }
        waiting.add(new Request(exchange, callback));
        return false;
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        template = context.createProducerTemplate();
        running = true;
        alone = context.getExecutorServiceManager().newFixedThreadPool(this, "RestAlone", HELPERS);
        answers = context.getExecutorServiceManager().newFixedThreadPool(this, "RestAnswers", HELPERS);
        pool = context.getExecutorServiceManager().newFixedThreadPool(this, "RestBatches", threads);
        for (int i = 0; i < threads; i++) {
            pool.execute(this::takeUntilStopped);
        }
    }

    /** Takes no more requests; lets every thread answer what is waiting, then stops. */
    @Override
    protected void doStop() throws Exception {
        running = false;
        if (pool != null) {
            context.getExecutorServiceManager().shutdownGraceful(pool, 30_000);
            pool = null;
        }
        for (Request left; (left = waiting.poll()) != null; ) { // none normally: the threads drain the queue first
            tryAlone(left);
        }
        for (ExecutorService helpers : new ExecutorService[] {alone, answers}) {
            if (helpers != null) {
                context.getExecutorServiceManager().shutdownGraceful(helpers, 30_000);
            }
        }
        if (template != null) {
            template.stop();
        }
        super.doStop();
    }

    private void takeUntilStopped() {
        Session session = null;
        while (running || !waiting.isEmpty()) {
            List<Request> batch = new ArrayList<>();
            try {
                Request first = waiting.poll(POLL_MS, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                waiting.drainTo(batch, maxBatchSize - 1);
                session = runBatch(batch, session);
            } catch (InterruptedException e) {
                Thread.interrupted(); // a stray interrupt (a step that was waiting): the thread goes on unless stopping
                batch.forEach(this::tryAlone);
            } catch (RuntimeException | Error e) {
                // nothing of the batch may ride on the next commit, and no caller may be left waiting
                LOG.warn("A batch of {} REST request(s) failed, each is tried again alone: {}", batch.size(), e.toString());
                if (session != null) {
                    SharedTransaction.rollbackQuietly(session);
                    closeQuietly(session);
                    session = null;
                }
                batch.forEach(this::tryAlone);
            }
        }
    }

    /** Tries the request alone on a helper thread (if it was not answered yet), so the batch thread goes on. */
    private void tryAlone(Request request) {
        if (request.answered().get()) {
            return;
        }
        try {
            alone.execute(() -> runAlone(request));
        } catch (RuntimeException rejected) { // stopping: the helpers take no more
            runAlone(request);
        }
    }

    /** @return the session to use for the next batch (null: open a new one) */
    private Session runBatch(List<Request> batch, Session session) {
        Connection connection;
        try {
            connection = factory.createConnection(); // the shared connection of the caching factory
            if (session == null) {
                session = connection.createSession(true, Session.SESSION_TRANSACTED);
            }
        } catch (JMSException | RuntimeException e) {
            // the broker is not reachable: each request finds out on its own (and is answered 503), side by side
            batch.forEach(this::tryAlone);
            return null;
        }
        List<Exchange> attempts = new ArrayList<>(batch.size());
        boolean done = false;
        try (SharedTransaction transaction = new SharedTransaction(factory, connection, session)) {
            boolean failed = false;
            for (Request request : batch) {
                Exchange attempt = attempt(request.exchange());
                transaction.join(attempt);
                template.send(messagePath, attempt);
                attempts.add(attempt);
                if (attempt.getException() != null || attempt.isRollbackOnly()) {
                    transaction.rollback(what(batch), (attempt.getException() != null ? attempt.getException().toString()
                            : "marked rollback-only") + "; each request is tried again alone");
                    failed = true;
                    break;
                }
            }
            done = !failed && transaction.commit(what(batch));
        } catch (RuntimeException e) {
            LOG.warn("A shared transaction of {} failed, each request is tried again alone: {}", what(batch), e.toString());
        }
        if (!done) {
            SharedTransaction.rollbackQuietly(session);
            closeQuietly(session);
            batch.forEach(this::tryAlone);
            return null;
        }
        committed.accept(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            answer(batch.get(i), attempts.get(i));
        }
        return session;
    }

    /** The request through the message path on its own, outside any shared transaction; answered with its outcome. */
    private void runAlone(Request request) {
        Exchange attempt = attempt(request.exchange());
        try {
            template.send(messagePath, attempt);
        } catch (RuntimeException e) {
            attempt.setException(e);
        }
        answer(request, attempt);
    }

    /**
     * A new exchange with the request's body, headers, properties and arrival time, and a unit of work of its own, so
     * that what waits for its outcome (the ledger's steps, the idempotency record) follows this attempt, not the request.
     */
    private static Exchange attempt(Exchange request) {
        Exchange attempt = new org.apache.camel.support.DefaultExchange(request); // shares the clock: created = arrival
        attempt.getExchangeExtension().setUnitOfWork(null);
        attempt.getIn().setBody(request.getIn().getBody());
        attempt.getIn().getHeaders().putAll(request.getIn().getHeaders());
        attempt.getProperties().putAll(request.getProperties());
        return attempt;
    }

    /**
     * Gives the request the attempt's answer (or its failure, which mas-rest answers 503) and completes it, on a helper
     * thread: the rest of the request's route (its answer's last steps) runs there.
     */
    private void answer(Request request, Exchange attempt) {
        if (!request.answered().compareAndSet(false, true)) {
            return;
        }
        Exchange exchange = request.exchange();
        org.apache.camel.Message answer = attempt.getMessage();
        exchange.getMessage().setBody(answer.getBody());
        exchange.getMessage().getHeaders().clear();
        exchange.getMessage().getHeaders().putAll(answer.getHeaders());
        if (attempt.getException() != null) {
            exchange.setException(attempt.getException());
        }
        for (Map.Entry<String, Object> property : attempt.getProperties().entrySet()) {
            exchange.setProperty(property.getKey(), property.getValue());
        }
        try {
            answers.execute(() -> request.callback().done(false));
        } catch (RuntimeException rejected) { // stopping: the helpers take no more
            request.callback().done(false);
        }
    }

    private static String what(List<Request> batch) {
        return "a batch of " + batch.size() + " REST request(s)";
    }

    private static void closeQuietly(Session session) {
        try {
            session.close();
        } catch (JMSException | RuntimeException e) {
            LOG.debug("Closing a failed session failed too: {}", e.toString());
        }
    }
}
