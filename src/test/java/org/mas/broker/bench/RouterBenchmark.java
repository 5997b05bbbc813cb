package org.mas.broker.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.HdrHistogram.Histogram;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.builder.RouteBuilder;

import org.mas.broker.delivery.ledger.DeliveryLedger;
import org.mas.broker.support.ChildProcesses;
import org.mas.broker.support.RunningBroker;

/**
 * The router against raw Artemis, in one broker instance and one run (sections a-e of docs/benchmarks.md). Persistent
 * 1 KiB messages; clients over TCP on loopback, the router in-VM, as deployed. Not a test: bench/run runs it.
 * <pre>
 *   a. raw: JMS producer (async sends) -> queue -> JMS consumer (auto-ack)
 *   b. JMS ingress -> validate -> route -> agent queue, drained by a consumer; ledger off
 *   c. the same with the delivery ledger recording every step
 *   d. REST POST /api/messages (wrk) against an endpoint in the same process that answers 202 and does nothing
 *   e. end-to-end latency (send -> receive from the agent queue) at 10% of the rate measured in c
 * </pre>
 * Arguments: message count per path (default 50,000), wrk duration in seconds (default 15).
 */
public final class RouterBenchmark {

    private static final String SINK = "mas.agent.bench-sink";
    /** For a run with one optimisation undone (bench/run's before/after section): suffix of its RATIO names. */
    private static final String LABEL = System.getProperty("bench.label", "");
    private static final Pattern WRK_RATE = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern WRK_NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");

    private RouterBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
        int wrkSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        // -Dbench.data-parent=/dev/shm puts the journal in memory: shows how much of a figure is the disk's
        Path dataDir = Files.createTempDirectory(Path.of(System.getProperty("bench.data-parent",
                System.getProperty("java.io.tmpdir"))), "mas-bench");
        Map<String, String> props = new HashMap<>();
        for (String kv : System.getProperty("bench.camel", "").split(",")) {
            if (kv.contains("=")) {
                props.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
        }
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of(), props)) {
            System.out.printf("setup: java %s (%s), %d cores, embedded Artemis %s, %s journal, router in-VM, clients over "
                            + "TCP loopback, persistent 1 KiB envelopes, %d messages per path, data under %s, properties %s%n",
                    System.getProperty("java.version"), System.getProperty("java.vm.name"),
                    Runtime.getRuntime().availableProcessors(), broker.artemis().getVersion().getFullVersion(),
                    broker.artemis().getConfiguration().getJournalType(), count, dataDir.getParent(), props);
            DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort()
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
            try (Connection connection = factory.createConnection()) {
                connection.start();
                String envelope = envelope("x".repeat(860));

                // warm-up of both paths (JIT, journal files, queues created)
                throughput(connection, "bench.raw", "bench.raw", envelope, count / 2);
                ledger.setRecording(false);
                throughput(connection, "mas.inbound", SINK, envelope, count / 2);

                section("a. raw Artemis: producer -> queue -> consumer");
                Rate raw = throughput(connection, "bench.raw", "bench.raw", envelope, count);
                System.out.printf("raw                 %s%n", raw);
                System.out.printf("RATIO raw%s=1.00 (%.0f msg/s)%n", LABEL, raw.perSecond);

                section("b. JMS ingress -> validate -> route -> agent queue (ledger off)");
                Rate route = throughput(connection, "mas.inbound", SINK, envelope, count);
                System.out.printf("router, ledger off  %s%n", route);
                System.out.printf("RATIO jms_route%s=%.2f (router %.0f msg/s, raw %.0f msg/s)%n", LABEL, route.perSecond / raw.perSecond,
                        route.perSecond, raw.perSecond);

                section("c. the same with the delivery ledger on");
                ledger.setRecording(true);
                Rate withLedger = throughput(connection, "mas.inbound", SINK, envelope, count);
                ledger.flush(java.time.Duration.ofMinutes(2));
                System.out.printf("router, ledger on   %s, ledger writer backlog after: %d%n", withLedger, ledger.backlog());
                System.out.printf("RATIO jms_route_ledger%s=%.2f (router with ledger %.0f msg/s, raw %.0f msg/s)%n", LABEL,
                        withLedger.perSecond / raw.perSecond, withLedger.perSecond, raw.perSecond);

                String sections = System.getProperty("bench.sections", "fde");
                if (!LABEL.isEmpty()) {
                    return; // a variant: only a, b and c, for the before/after table
                }
                if (sections.contains("f")) {
                    section("b0. for the profile: a Camel route that only moves messages (jms-batch -> jms), same consumers and batches");
                    broker.context().addRoutes(new RouteBuilder() {
                        @Override
                        public void configure() {
                            from("jms-batch:queue:bench.in?concurrentConsumers=4&maxBatchSize=100").routeId("bench-floor")
                                    .to("jms:queue:bench.out");
                        }
                    });
                    throughput(connection, "bench.in", "bench.out", envelope, count / 2);
                    Rate floor = throughput(connection, "bench.in", "bench.out", envelope, count);
                    System.out.printf("do-nothing route    %s%n", floor);
                    System.out.printf("RATIO do_nothing_route=%.2f (%.0f msg/s, raw %.0f msg/s)%n", floor.perSecond / raw.perSecond,
                            floor.perSecond, raw.perSecond);
                }
                if (sections.contains("d")) {
                    section("d. REST POST /api/messages -> agent queue, wrk -t2 -c32, vs an empty 202 endpoint");
                    rest(broker, connection, envelope, wrkSeconds);
                    purge(broker, SINK);
                }
                if (sections.contains("e")) {
                    section("e. end-to-end latency at 10% of the rate measured in c");
                    ledger.setRecording(!Boolean.getBoolean("bench.latency-without-ledger"));
                    double rate = withLedger.perSecond / 10;
                    int samples = Math.max(3_000, count / 5);
                    double[] rawLatency = latency(connection, "bench.raw", "bench.raw", rate, samples);
                    System.out.printf("raw Artemis         p50 %.2f ms, p99 %.2f ms (the same rate, for comparison)%n",
                            rawLatency[0], rawLatency[1]);
                    double[] routed = latency(connection, "mas.inbound", SINK, rate, samples);
                    System.out.printf("router, ledger %s   p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d messages at %.0f msg/s)%n",
                            Boolean.getBoolean("bench.latency-without-ledger") ? "off" : "on ", routed[0], routed[1],
                            routed[2], samples, rate);
                    System.out.printf("RATIO latency_p99_vs_10ms=%.2f (p99 %.2f ms, p50 %.2f ms at %.0f msg/s; raw Artemis p99 "
                            + "%.2f ms)%n", routed[1] / 10, routed[1], routed[0], rate, rawLatency[1]);
                }
            } finally {
                factory.close();
            }
        }
    }

    /** Empties the queue once the router has nothing left to route to it. */
    private static void purge(RunningBroker broker, String queue) throws Exception {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(2))
                .until(() -> broker.depth("mas.inbound") == 0);
        broker.artemis().locateQueue(org.apache.activemq.artemis.api.core.SimpleString.of(queue)).deleteAllReferences();
    }

    private static void section(String title) {
        System.out.printf("%n== %s%n", title);
    }

    static String envelope(String padding) {
        return "{\"from_agent\":\"bench-source\",\"to_agent\":\"bench-sink\",\"message_type\":\"event\","
                + "\"payload\":{\"p\":\"" + padding + "\"}}";
    }

    record Rate(double perSecond, double cpuMicrosPerMessage) {
        @Override
        public String toString() {
            return String.format("%8.0f msg/s, process CPU %5.0f us/msg", perSecond, cpuMicrosPerMessage);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Sends {@code count} messages to {@code in} while a consumer takes as many from {@code out}. */
    static Rate throughput(Connection connection, String in, String out, String body, int count) throws Exception {
        Session consumerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = consumerSession.createConsumer(consumerSession.createQueue(out));
        Session producerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = producerSession.createProducer(producerSession.createQueue(in));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        long cpuBefore = processCpuNanos();
        long start = System.nanoTime();
        Thread sender = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    producer.send(producerSession.createTextMessage(body));
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        sender.start();
        int received = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (received < count && System.nanoTime() < deadline) {
            if (consumer.receive(1_000) != null) {
                received++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long cpu = processCpuNanos() - cpuBefore;
        sender.join();
        consumer.close();
        consumerSession.close();
        producerSession.close();
        if (received < count) {
            throw new IllegalStateException("only " + received + " of " + count + " arrived on " + out);
        }
        return new Rate(count / seconds, cpu / 1e3 / count);
    }

    /** wrk against the empty endpoint, then against POST /api/messages while a consumer drains the agent queue. */
    private static void rest(RunningBroker broker, Connection connection, String envelope, int seconds) throws Exception {
        broker.context().addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from("platform-http:/bench/empty?httpMethodRestrict=POST").routeId("bench-empty-202")
                        .setHeader("CamelHttpResponseCode", constant(202)).setBody(constant(""));
            }
        });
        Path script = Files.createTempFile("mas-bench", ".lua");
        Files.writeString(script, "wrk.method = \"POST\"\nwrk.body = '" + envelope + "'\n"
                + "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"X-API-Key\"] = \""
                + RunningBroker.API_KEY + "\"\n");
        wrk(broker, script, "/bench/empty", Math.max(3, seconds / 3)); // warm-up
        long cpu = processCpuNanos();
        double empty = wrk(broker, script, "/bench/empty", seconds);
        double emptyCpu = (processCpuNanos() - cpu) / 1e3 / (empty * seconds);
        AtomicLong drained = new AtomicLong();
        Session session = connection.createSession(false, Session.DUPS_OK_ACKNOWLEDGE);
        MessageConsumer consumer = session.createConsumer(session.createQueue(SINK));
        consumer.setMessageListener(m -> drained.incrementAndGet());
        wrk(broker, script, "/api/messages", Math.max(3, seconds / 3)); // warm-up
        cpu = processCpuNanos();
        double messages = wrk(broker, script, "/api/messages", seconds);
        double messagesCpu = (processCpuNanos() - cpu) / 1e3 / (messages * seconds);
        consumer.close();
        session.close();
        System.out.printf("empty 202 endpoint  %8.0f req/s, process CPU %5.0f us/req%nPOST /api/messages  %8.0f req/s, "
                + "process CPU %5.0f us/req (202 each, %d drained from %s; wrk's own CPU not counted)%n",
                empty, emptyCpu, messages, messagesCpu, drained.get(), SINK);
        System.out.printf("RATIO rest=%.2f (POST /api/messages %.0f req/s, empty endpoint %.0f req/s)%n", messages / empty,
                messages, empty);
    }

    private static double wrk(RunningBroker broker, Path script, String path, int seconds) throws Exception {
        Process wrk = new ProcessBuilder("wrk", "-t2", "-c32", "-d" + seconds + "s", "-s", script.toString(),
                broker.uri(path).toString()).redirectErrorStream(true).start();
        String output;
        try {
            output = new String(wrk.getInputStream().readAllBytes());
            if (!wrk.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
                throw new IllegalStateException("wrk did not finish within " + (seconds + 60) + " s");
            }
        } finally {
            ChildProcesses.kill(wrk);
        }
        Matcher rate = WRK_RATE.matcher(output);
        if (!rate.find()) {
            throw new IllegalStateException("wrk gave no rate:\n" + output);
        }
        Matcher errors = WRK_NON_2XX.matcher(output);
        if (errors.find()) {
            throw new IllegalStateException("wrk saw " + errors.group(1) + " answers that were not 2xx on " + path + ":\n" + output);
        }
        return Double.parseDouble(rate.group(1));
    }

    /**
     * Sends at {@code perSecond}, paced, each message carrying its send time; measures send -> receive.
     * @return p50, p99 and max in ms
     */
    private static double[] latency(Connection connection, String in, String out, double perSecond, int count) throws Exception {
        Session consumerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = consumerSession.createConsumer(consumerSession.createQueue(out));
        Session producerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = producerSession.createProducer(producerSession.createQueue(in));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        Histogram micros = new Histogram(TimeUnit.MINUTES.toMicros(1), 3);
        List<Throwable> failures = new ArrayList<>();
        Thread receiver = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    Message message = consumer.receive(30_000);
                    if (message == null) {
                        throw new IllegalStateException("only " + i + " of " + count + " arrived");
                    }
                    String text = ((TextMessage) message).getText();
                    int at = text.indexOf("\"p\":\"") + 5;
                    long sent = Long.parseLong(text.substring(at, text.indexOf('-', at)));
                    micros.recordValue(Math.max(0, (System.nanoTime() - sent) / 1_000));
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        });
        receiver.start();
        long interval = (long) (1e9 / perSecond);
        long next = System.nanoTime();
        for (int i = 0; i < count; i++) {
            for (long wait = next - System.nanoTime(); wait > 0; wait = next - System.nanoTime()) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait); // pacing without burning a core
            }
            long now = System.nanoTime();
            producer.send(producerSession.createTextMessage(envelope(now + "-" + "x".repeat(840))));
            next += interval;
        }
        receiver.join();
        consumer.close();
        consumerSession.close();
        producerSession.close();
        if (!failures.isEmpty()) {
            throw new IllegalStateException(failures.get(0));
        }
        return new double[] {micros.getValueAtPercentile(50) / 1000.0, micros.getValueAtPercentile(99) / 1000.0,
                micros.getMaxValue() / 1000.0};
    }
}
