package org.mas.broker.bench;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;

import org.mas.broker.delivery.AckTracker;
import org.mas.broker.delivery.Acknowledgments;
import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.support.RunningBroker;

import static org.awaitility.Awaitility.await;

/**
 * Section h of docs/benchmarks.md: acknowledgments per second, on mas.acks and over REST, valid ones for real
 * requires_ack copies (delivered and taken from the agent's queue first) and valid and stray ones mixed 50/50,
 * against raw Artemis (send + consume of ack-sized persistent messages) in the same broker and run; the ledger records
 * every step. In {@link Rounds#COUNT} rounds: raw, mas.acks valid and mixed, raw, REST valid and mixed, raw; each ratio
 * the median of the rounds' ratios against the raw measurements around it. Not a test: bench/run runs it. Argument:
 * acknowledgments per path and round (default 10,000).
 */
public final class AckBenchmark {

    private static final String AGENT = "bench-acker";
    private static final int REST_CLIENTS = 8;

    private AckBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        Path dataDir = Files.createTempDirectory("mas-bench-acks");
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of())) {
            DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
            AckTracker tracker = broker.context().getRegistry().lookupByNameAndType("ackTracker", AckTracker.class);
            Acknowledgments acks = broker.context().getRegistry().lookupByNameAndType("acks", Acknowledgments.class);
            AtomicLong acked = new AtomicLong();
            broker.context().getRegistry().lookupByNameAndType("deliverySteps", org.mas.broker.delivery.ledger.DeliverySteps.class)
                    .subscribe(e -> {
                if (e.kind() == LedgerEvent.Kind.ACKED) {
                    acked.incrementAndGet();
                }
            });
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort()
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
            try (Connection connection = factory.createConnection()) {
                connection.start();
                String ackSized = ack("bench-0000000000-raw", "processed");
                int rawCount = Math.max(count, 5_000); // a rate over well under a second would be noise
                int warm = Math.max(200, count / 10);
                System.out.printf("%n== h. acknowledgments: %d per path and round, ledger on, ack_timeout 60 s; mas.acks: one "
                        + "transacted consumer; REST: %d clients (java.net.http, in this process); raw Artemis: %d "
                        + "%d-byte persistent messages; %d rounds, raw measured before and after each pair of paths, "
                        + "each measurement after a warm-up%n", count, REST_CLIENTS, rawCount, ackSized.length(),
                        Rounds.COUNT);
                RouterBenchmark.throughput(connection, "bench.raw-acks", "bench.raw-acks", ackSized, rawCount); // warm-up
                // a first warm-up of both ack paths
                queueAcks(broker, connection, tracker, acks, acked, "w1", Math.min(count, 2_000), false);
                restAcks(broker, connection, tracker, acked, "w2", Math.min(count, 2_000), false);
                List<RouterBenchmark.Rate> raws = new ArrayList<>();
                Rounds.Series queueValid = new Rounds.Series();
                Rounds.Series queueMixed = new Rounds.Series();
                Rounds.Series restValid = new Rounds.Series();
                Rounds.Series restMixed = new Rounds.Series();
                for (int r = 1; r <= Rounds.COUNT; r++) {
                    RouterBenchmark.Rate before = raw(connection, ackSized, rawCount, r, raws);
                    queueAcks(broker, connection, tracker, acks, acked, "wq" + r, warm, false);
                    Run qv = queueAcks(broker, connection, tracker, acks, acked, "q" + r, count, false);
                    Run qm = queueAcks(broker, connection, tracker, acks, acked, "qm" + r, count, true);
                    print(r, "mas.acks, valid", qv);
                    print(r, "mas.acks, 50% stray", qm);
                    RouterBenchmark.Rate after = raw(connection, ackSized, rawCount, r, raws);
                    double baseline = Rounds.around(before.perSecond(), after.perSecond());
                    queueValid.add(qv.perSecond, baseline, qv.cpuMicros);
                    queueMixed.add(qm.perSecond, baseline, qm.cpuMicros);

                    before = after;
                    restAcks(broker, connection, tracker, acked, "wr" + r, warm, false);
                    Run rv = restAcks(broker, connection, tracker, acked, "r" + r, count, false);
                    Run rm = restAcks(broker, connection, tracker, acked, "rm" + r, count, true);
                    print(r, "REST, valid", rv);
                    print(r, "REST, 50% stray", rm);
                    after = raw(connection, ackSized, rawCount, r, raws);
                    baseline = Rounds.around(before.perSecond(), after.perSecond());
                    restValid.add(rv.perSecond, baseline, rv.cpuMicros);
                    restMixed.add(rm.perSecond, baseline, rm.cpuMicros);
                }
                List<Double> rawRates = raws.stream().map(RouterBenchmark.Rate::perSecond).toList();
                System.out.printf("raw Artemis, %d-byte messages  %8.0f msg/s, process CPU %5.0f us/msg (medians of %d "
                                + "measurements; rate min %s max %s)%n", ackSized.length(), Rounds.median(rawRates),
                        Rounds.median(raws.stream().map(RouterBenchmark.Rate::cpuMicrosPerMessage).toList()), raws.size(),
                        Rounds.n(rawRates.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN)),
                        Rounds.n(rawRates.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN)));
                summary("mas.acks, valid          ", "acks_jms_vs_raw", queueValid);
                summary("mas.acks, 50% stray      ", "acks_jms_mixed_vs_raw", queueMixed);
                summary("REST, valid              ", "acks_rest_vs_raw", restValid);
                summary("REST, 50% stray          ", "acks_rest_mixed_vs_raw", restMixed);
            } finally {
                factory.close();
            }
        }
    }

    record Run(double perSecond, double cpuMicros) {
    }

    private static RouterBenchmark.Rate raw(Connection connection, String ackSized, int count, int round,
                                            List<RouterBenchmark.Rate> raws) throws Exception {
        RouterBenchmark.Rate raw = RouterBenchmark.measure(connection, "bench.raw-acks", "bench.raw-acks", ackSized,
                Math.max(1_000, count / 5), count);
        System.out.printf("%s  %-20s %s%n", Rounds.round(round), "raw", raw);
        raws.add(raw);
        return raw;
    }

    private static void print(int round, String label, Run run) {
        System.out.printf("%s  %-20s %8.0f acks/s, process CPU %5.0f us/ack%n", Rounds.round(round), label, run.perSecond,
                run.cpuMicros);
    }

    private static void summary(String label, String name, Rounds.Series series) {
        System.out.printf("%s %8.0f acks/s, process CPU %5.0f us/ack (medians of %d rounds; rate min %s max %s)%n", label,
                series.rate(), series.cpu(), series.size(), Rounds.n(series.minRate()), Rounds.n(series.maxRate()));
        System.out.printf("RATIO %s=%.2f (%s; %s acks/s, raw Artemis %s msg/s medians)%n", name, series.ratio(),
                series.spread(), Rounds.n(series.rate()), Rounds.n(series.baseline()));
    }

    private static String ack(String id, String status) {
        return "{\"id\":\"" + id + "\",\"agent\":\"" + AGENT + "\",\"status\":\"" + status + "\"}";
    }

    /**
     * {@code count} requires_ack messages through the JMS ingress, their copies taken from the agent's queue: the
     * tracker then follows them all. @return their ids
     */
    private static List<String> deliveredCopies(RunningBroker broker, Connection connection, AckTracker tracker,
                                                String prefix, int count) throws Exception {
        int before = tracker.tracked();
        List<String> ids = new ArrayList<>(count);
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue("mas.inbound"));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        for (int i = 0; i < count; i++) {
            String id = String.format("bench-%s-%08d", prefix, i);
            ids.add(id);
            producer.send(session.createTextMessage("{\"id\":\"" + id + "\",\"from_agent\":\"bench-source\",\"to_agent\":\""
                    + AGENT + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}"));
        }
        MessageConsumer consumer = session.createConsumer(session.createQueue("mas.agent." + AGENT));
        for (int received = 0; received < count; received++) {
            if (consumer.receive(60_000) == null) {
                throw new IllegalStateException("only " + received + " of " + count + " copies arrived");
            }
        }
        consumer.close();
        session.close();
        await().atMost(Duration.ofMinutes(2)).until(() -> tracker.tracked() == before + count);
        return ids;
    }

    /** Valid acks (and, if {@code mixed}, as many for unknown ids between them) to mas.acks, async sends. */
    private static Run queueAcks(RunningBroker broker, Connection connection, AckTracker tracker, Acknowledgments acks,
                                 AtomicLong acked, String prefix, int count, boolean mixed) throws Exception {
        List<String> ids = deliveredCopies(broker, connection, tracker, prefix, mixed ? count / 2 : count);
        long ackedBefore = acked.get();
        long refusedBefore = acks.refusedCount();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue("mas.acks"));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        long cpu = processCpuNanos();
        long start = System.nanoTime();
        for (String id : ids) {
            producer.send(session.createTextMessage(ack(id, "processed")));
            if (mixed) {
                producer.send(session.createTextMessage(ack(id.replace("bench-", "stray-"), "processed")));
            }
        }
        await().atMost(Duration.ofMinutes(5)).pollInterval(Duration.ofMillis(5))
                .until(() -> acked.get() - ackedBefore >= ids.size() && broker.depth("mas.acks") == 0);
        double seconds = (System.nanoTime() - start) / 1e9;
        long cpuUsed = processCpuNanos() - cpu;
        session.close();
        if (mixed) { // every stray refused, counted (after the early-ack hold)
            await().atMost(Duration.ofMinutes(1)).until(() -> acks.refusedCount() - refusedBefore >= ids.size());
        }
        int all = mixed ? 2 * ids.size() : ids.size();
        return new Run(all / seconds, cpuUsed / 1e3 / all);
    }

    /** The same by POST /api/messages/{id}/ack from REST_CLIENTS threads; each answer checked (200, or 404 a stray). */
    private static Run restAcks(RunningBroker broker, Connection connection, AckTracker tracker, AtomicLong acked,
                                String prefix, int count, boolean mixed) throws Exception {
        List<String> ids = deliveredCopies(broker, connection, tracker, prefix, mixed ? count / 2 : count);
        List<String> paths = new ArrayList<>();
        for (String id : ids) {
            paths.add("/api/messages/" + id + "/ack");
            if (mixed) {
                paths.add("/api/messages/" + id.replace("bench-", "stray-") + "/ack");
            }
        }
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String body = "{\"agent\":\"" + AGENT + "\",\"status\":\"processed\"}";
        AtomicInteger next = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(REST_CLIENTS);
        long cpu = processCpuNanos();
        long start = System.nanoTime();
        List<Future<?>> done = new ArrayList<>();
        for (int c = 0; c < REST_CLIENTS; c++) {
            done.add(clients.submit(() -> {
                for (int i = next.getAndIncrement(); i < paths.size(); i = next.getAndIncrement()) {
                    String path = paths.get(i);
                    HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create(broker.uri(path).toString()))
                            .header("X-API-Key", RunningBroker.API_KEY).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
                    if (response.statusCode() != (path.contains("/stray-") ? 404 : 200)) {
                        wrong.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long cpuUsed = processCpuNanos() - cpu;
        clients.shutdown();
        if (wrong.get() > 0 || tracker.tracked() != 0) {
            throw new IllegalStateException(wrong.get() + " unexpected answers, " + tracker.tracked() + " copies still followed");
        }
        return new Run(paths.size() / seconds, cpuUsed / 1e3 / paths.size());
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
