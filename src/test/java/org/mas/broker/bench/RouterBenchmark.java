package org.mas.broker.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
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
 *   b0. a Camel route that only moves messages (jms-batch -> jms), for the profile
 *   d. REST POST /api/messages (wrk) against raw Artemis, and against an endpoint in the same process that answers
 *      202 and does nothing
 *   e. end-to-end latency (send -> receive from the agent queue) at 10% of the rate measured in c
 * </pre>
 * In {@link Rounds#COUNT} rounds (see {@link Rounds}): raw, b, raw, c, raw, b0, raw, d, raw, each after a warm-up;
 * every ratio is the median of the rounds' ratios, each against the raw measurements right before and after it.
 * Arguments: message count per path and round (default 50,000), wrk duration in seconds (default 15).
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
        int warm = Math.max(1_000, count / 5); // the warm-up before every measurement
        // -Dbench.data-parent=/dev/shm puts the journal in memory: shows how much of a figure is the disk's
        Path dataDir = Files.createTempDirectory(Path.of(System.getProperty("bench.data-parent",
                System.getProperty("java.io.tmpdir"))), "mas-bench");
        Map<String, String> props = new HashMap<>();
        for (String kv : System.getProperty("bench.camel", "").split(",")) {
            if (kv.contains("=")) {
                props.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
        }
        String sections = LABEL.isEmpty() ? System.getProperty("bench.sections", "fde") : ""; // a variant: a, b, c only
        try (RunningBroker broker = RunningBroker.start(dataDir, Map.of(), props)) {
            System.out.printf("setup: java %s (%s), %d cores, embedded Artemis %s, %s journal, router in-VM, clients over "
                            + "TCP loopback, persistent 1 KiB envelopes, %d messages per path and round (warm-up %d before "
                            + "each), %d rounds, wrk %d s, data under %s, properties %s%n",
                    System.getProperty("java.version"), System.getProperty("java.vm.name"),
                    Runtime.getRuntime().availableProcessors(), broker.artemis().getVersion().getFullVersion(),
                    broker.artemis().getConfiguration().getJournalType(), count, warm, Rounds.COUNT, wrkSeconds,
                    dataDir.getParent(), props);
            DeliveryLedger ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger", DeliveryLedger.class);
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + broker.brokerPort()
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
            try (Connection connection = factory.createConnection()) {
                connection.start();
                String envelope = envelope("x".repeat(860));
                Path script = sections.contains("d") ? restSetup(broker, envelope) : null;
                if (sections.contains("f")) {
                    broker.context().addRoutes(new RouteBuilder() {
                        @Override
                        public void configure() {
                            from("jms-batch:queue:bench.in?concurrentConsumers=4&maxBatchSize=100").routeId("bench-floor")
                                    .to("jms:queue:bench.out");
                        }
                    });
                }

                // a first warm-up of every path (JIT, journal files, queues created), then the rounds
                throughput(connection, "bench.raw", "bench.raw", envelope, count / 2);
                ledger.setRecording(false);
                throughput(connection, "mas.inbound", SINK, envelope, count / 2);
                ledger.setRecording(true);
                throughput(connection, "mas.inbound", SINK, envelope, count / 2);
                ledger.flush(java.time.Duration.ofMinutes(2));
                if (sections.contains("f")) {
                    throughput(connection, "bench.in", "bench.out", envelope, count / 2);
                }
                if (script != null) {
                    wrk(broker, script, "/bench/empty", 3);
                    rest(broker, connection, script, 3);
                }

                System.out.printf("%n== rounds: raw Artemis measured before and after every path, each measurement after "
                        + "a warm-up; a path's ratio in a round = its rate / the mean of the two raw rates around it%n");
                List<Rate> raws = new ArrayList<>();
                Rounds.Series route = new Rounds.Series();
                Rounds.Series withLedger = new Rounds.Series();
                Rounds.Series floor = new Rounds.Series();
                Rounds.Series rest = new Rounds.Series(); // POST /api/messages against raw Artemis
                Rounds.Series restVsEmpty = new Rounds.Series(); // POST /api/messages against the empty endpoint
                Rounds.Series empty = new Rounds.Series(); // the empty endpoint against raw Artemis (information)
                long backlogAfter = 0;
                for (int r = 1; r <= Rounds.COUNT; r++) {
                    Rate before = raw(connection, envelope, warm, count, r, raws);

                    ledger.setRecording(false);
                    Rate b = measure(connection, "mas.inbound", SINK, envelope, warm, count);
                    print(r, "router, ledger off", b);
                    Rate after = raw(connection, envelope, warm, count, r, raws);
                    route.add(b.perSecond, Rounds.around(before.perSecond, after.perSecond), b.cpuMicrosPerMessage);

                    before = after;
                    ledger.setRecording(true);
                    Rate c = measure(connection, "mas.inbound", SINK, envelope, warm, count);
                    ledger.flush(java.time.Duration.ofMinutes(2)); // not timed; the next measurement starts with none
                    backlogAfter = Math.max(backlogAfter, ledger.backlog());
                    print(r, "router, ledger on", c);
                    after = raw(connection, envelope, warm, count, r, raws);
                    withLedger.add(c.perSecond, Rounds.around(before.perSecond, after.perSecond), c.cpuMicrosPerMessage);

                    if (sections.contains("f")) {
                        before = after;
                        Rate f = measure(connection, "bench.in", "bench.out", envelope, warm, count);
                        print(r, "do-nothing route", f);
                        after = raw(connection, envelope, warm, count, r, raws);
                        floor.add(f.perSecond, Rounds.around(before.perSecond, after.perSecond), f.cpuMicrosPerMessage);
                    }
                    if (script != null) { // the ledger on, as deployed
                        before = after;
                        wrk(broker, script, "/bench/empty", Math.max(1, wrkSeconds / 4)); // warm-up
                        long cpu = processCpuNanos();
                        double emptyRate = wrk(broker, script, "/bench/empty", wrkSeconds);
                        double emptyCpu = (processCpuNanos() - cpu) / 1e3 / (emptyRate * wrkSeconds);
                        System.out.printf("%s  %-20s %s%n", Rounds.round(r), "empty 202 endpoint",
                                String.format("%8.0f req/s, process CPU %5.0f us/req", emptyRate, emptyCpu));
                        rest(broker, connection, script, Math.max(1, wrkSeconds / 4)); // warm-up
                        Rate post = rest(broker, connection, script, wrkSeconds);
                        ledger.flush(java.time.Duration.ofMinutes(2));
                        System.out.printf("%s  %-20s %s%n", Rounds.round(r), "POST /api/messages",
                                String.format("%8.0f req/s, process CPU %5.0f us/req (wrk's own CPU not counted)",
                                        post.perSecond, post.cpuMicrosPerMessage));
                        after = raw(connection, envelope, warm, count, r, raws);
                        double baseline = Rounds.around(before.perSecond, after.perSecond);
                        rest.add(post.perSecond, baseline, post.cpuMicrosPerMessage);
                        restVsEmpty.add(post.perSecond, emptyRate, post.cpuMicrosPerMessage);
                        empty.add(emptyRate, baseline, emptyCpu);
                    }
                }

                section("a. raw Artemis: producer -> queue -> consumer");
                List<Double> rawRates = raws.stream().map(Rate::perSecond).toList();
                double rawMin = rawRates.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
                double rawMax = rawRates.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
                System.out.printf("raw                 %8.0f msg/s, process CPU %5.0f us/msg (medians of %d measurements; "
                                + "rate min %s max %s)%n", Rounds.median(rawRates),
                        Rounds.median(raws.stream().map(Rate::cpuMicrosPerMessage).toList()), raws.size(),
                        Rounds.n(rawMin), Rounds.n(rawMax));
                System.out.printf("RATIO raw%s=1.00 (%s msg/s, median of %d measurements, min %s max %s: max/min %.2f)%n",
                        LABEL, Rounds.n(Rounds.median(rawRates)), raws.size(), Rounds.n(rawMin), Rounds.n(rawMax),
                        rawMax / rawMin);

                section("b. JMS ingress -> validate -> route -> agent queue (ledger off)");
                summary("router, ledger off", route);
                ratio("jms_route" + LABEL, route, "router");

                section("c. the same with the delivery ledger on");
                summary("router, ledger on", withLedger);
                System.out.printf("ledger writer backlog after each round's measurement (before its flush): at most %d%n",
                        backlogAfter);
                ratio("jms_route_ledger" + LABEL, withLedger, "router with ledger");

                if (!LABEL.isEmpty()) {
                    return; // a variant: only a, b and c, for the before/after table
                }
                if (sections.contains("f")) {
                    section("b0. for the profile: a Camel route that only moves messages (jms-batch -> jms), same consumers and batches");
                    summary("do-nothing route", floor);
                    ratio("do_nothing_route", floor, "do-nothing route");
                }
                if (script != null) {
                    section("d. REST POST /api/messages -> agent queue, wrk -t2 -c32, vs raw Artemis and vs an empty 202 endpoint");
                    System.out.printf("empty 202 endpoint  %8.0f req/s, process CPU %5.0f us/req (medians)%n", empty.rate(),
                            empty.cpu());
                    System.out.printf("POST /api/messages  %8.0f req/s, process CPU %5.0f us/req (medians; 202 each, ledger "
                            + "on, the agent queue drained meanwhile; wrk's own CPU not counted)%n", rest.rate(), rest.cpu());
                    System.out.printf("RATIO rest=%.2f (%s; POST /api/messages %s req/s, empty endpoint %s req/s medians)%n",
                            restVsEmpty.ratio(), restVsEmpty.spread(), Rounds.n(restVsEmpty.rate()),
                            Rounds.n(restVsEmpty.baseline()));
                    System.out.printf("RATIO rest_vs_raw=%.2f (%s; POST /api/messages %s req/s, raw %s msg/s medians)%n",
                            rest.ratio(), rest.spread(), Rounds.n(rest.rate()), Rounds.n(rest.baseline()));
                }
                if (sections.contains("e")) {
                    boolean ledgerOn = !Boolean.getBoolean("bench.latency-without-ledger");
                    double rate = withLedger.rate() / 10;
                    // count / 10 messages per run (at least 1,000), but no run longer than about wrk's seconds (at
                    // least 4 s): on a busy machine c's rate, and so this one, is low; never under 300 samples
                    int seconds = Math.max(4, wrkSeconds);
                    int samples = (int) Math.max(300, Math.min(Math.max(1_000, count / 10), rate * seconds));
                    section(String.format(Locale.ROOT, "e. end-to-end latency at 10%% of the rate measured in c (%.0f msg/s), "
                            + "%d messages per round, raw Artemis and the router alternately", rate, samples));
                    ledger.setRecording(ledgerOn);
                    Histogram allRaw = new Histogram(TimeUnit.MINUTES.toMicros(1), 3);
                    Histogram allRouted = new Histogram(TimeUnit.MINUTES.toMicros(1), 3);
                    List<Double> rawP99 = new ArrayList<>();
                    List<Double> routedP99 = new ArrayList<>();
                    List<Double> routedP50 = new ArrayList<>();
                    for (int r = 1; r <= Rounds.COUNT; r++) {
                        latency(connection, "bench.raw", "bench.raw", rate, Math.max(100, samples / 10)); // warm-up
                        Histogram rawRound = latency(connection, "bench.raw", "bench.raw", rate, samples);
                        latency(connection, "mas.inbound", SINK, rate, Math.max(100, samples / 10)); // warm-up
                        Histogram routed = latency(connection, "mas.inbound", SINK, rate, samples);
                        allRaw.add(rawRound);
                        allRouted.add(routed);
                        rawP99.add(ms(rawRound, 99));
                        routedP99.add(ms(routed, 99));
                        routedP50.add(ms(routed, 50));
                        System.out.printf("%s  raw Artemis p50 %.2f ms, p99 %.2f ms, max %.2f ms; router, ledger %s p50 %.2f "
                                        + "ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms%n", Rounds.round(r), ms(rawRound, 50),
                                ms(rawRound, 99), rawRound.getMaxValue() / 1000.0, ledgerOn ? "on" : "off", ms(routed, 50),
                                ms(routed, 99), ms(routed, 99.9), routed.getMaxValue() / 1000.0);
                    }
                    System.out.printf("raw Artemis         p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (all rounds' "
                                    + "samples, the same rate, for comparison)%n", ms(allRaw, 50), ms(allRaw, 99),
                            ms(allRaw, 99.9), allRaw.getMaxValue() / 1000.0);
                    System.out.printf("router, ledger %s   p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (all rounds' "
                                    + "samples: %d messages at %.0f msg/s)%n", ledgerOn ? "on " : "off", ms(allRouted, 50),
                            ms(allRouted, 99), ms(allRouted, 99.9), allRouted.getMaxValue() / 1000.0,
                            allRouted.getTotalCount(), rate);
                    List<Double> vs10 = routedP99.stream().map(p -> p / 10).toList();
                    System.out.printf("RATIO latency_p99_vs_10ms=%.2f (%s; p99 %.2f ms median of the rounds' p99, p99.9 %.2f "
                                    + "ms and max %.2f ms over all %d samples, p50 %.2f ms, at %.0f msg/s; raw Artemis p99 %.2f "
                                    + "ms median)%n", Rounds.median(vs10), Rounds.spread(vs10), Rounds.median(routedP99),
                            ms(allRouted, 99.9), allRouted.getMaxValue() / 1000.0, allRouted.getTotalCount(),
                            Rounds.median(routedP50), rate, Rounds.median(rawP99));
                }
            } finally {
                factory.close();
            }
        }
    }

    private static double ms(Histogram micros, double percentile) {
        return micros.getValueAtPercentile(percentile) / 1000.0;
    }

    /** A warm-up of {@code warm} messages, then the measurement of {@code count}. */
    static Rate measure(Connection connection, String in, String out, String body, int warm, int count) throws Exception {
        throughput(connection, in, out, body, warm);
        return throughput(connection, in, out, body, count);
    }

    /** Raw Artemis after its warm-up, printed and kept in {@code raws}. */
    private static Rate raw(Connection connection, String envelope, int warm, int count, int round, List<Rate> raws)
            throws Exception {
        Rate raw = measure(connection, "bench.raw", "bench.raw", envelope, warm, count);
        print(round, "raw", raw);
        raws.add(raw);
        return raw;
    }

    private static void print(int round, String what, Rate rate) {
        System.out.printf("%s  %-20s %s%n", Rounds.round(round), what, rate);
    }

    private static void summary(String what, Rounds.Series series) {
        System.out.printf("%-19s %8.0f msg/s, process CPU %5.0f us/msg (medians of %d rounds; rate min %s max %s)%n", what,
                series.rate(), series.cpu(), series.size(), Rounds.n(series.minRate()), Rounds.n(series.maxRate()));
    }

    /** RATIO name=0.41 (median of 3 rounds, min 0.38 max 0.44; router 4,120 msg/s, raw 10,050 msg/s medians) */
    private static void ratio(String name, Rounds.Series series, String what) {
        System.out.printf("RATIO %s=%.2f (%s; %s %s msg/s, raw %s msg/s medians)%n", name, series.ratio(), series.spread(),
                what, Rounds.n(series.rate()), Rounds.n(series.baseline()));
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
        return throughput(connection, in, out, body, count, () -> { }, () -> { });
    }

    /** The same, running {@code atStart} and {@code atEnd} right at the edges of the measured window. */
    static Rate throughput(Connection connection, String in, String out, String body, int count, Runnable atStart,
                           Runnable atEnd) throws Exception {
        Session consumerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = consumerSession.createConsumer(consumerSession.createQueue(out));
        Session producerSession = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = producerSession.createProducer(producerSession.createQueue(in));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        atStart.run();
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
        atEnd.run();
        sender.join();
        consumer.close();
        consumerSession.close();
        producerSession.close();
        if (received < count) {
            throw new IllegalStateException("only " + received + " of " + count + " arrived on " + out);
        }
        return new Rate(count / seconds, cpu / 1e3 / count);
    }

    /** The empty 202 endpoint (a route in the router's own Camel context) and wrk's script of POSTs. */
    private static Path restSetup(RunningBroker broker, String envelope) throws Exception {
        broker.context().addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from("platform-http:/bench/empty?httpMethodRestrict=POST").routeId("bench-empty-202")
                        .setHeader("CamelHttpResponseCode", constant(202)).setBody(constant(""));
            }
        });
        Path script = Files.createTempFile("mas-bench", ".lua");
        script.toFile().deleteOnExit();
        Files.writeString(script, "wrk.method = \"POST\"\nwrk.body = '" + envelope + "'\n"
                + "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"X-API-Key\"] = \""
                + RunningBroker.API_KEY + "\"\n");
        return script;
    }

    /**
     * wrk against POST /api/messages for {@code seconds} while a consumer drains the agent queue; what is left on it
     * afterwards is removed. @return requests per second and process CPU per request (wrk's own not counted)
     */
    private static Rate rest(RunningBroker broker, Connection connection, Path script, int seconds) throws Exception {
        AtomicLong drained = new AtomicLong();
        Session session = connection.createSession(false, Session.DUPS_OK_ACKNOWLEDGE);
        MessageConsumer consumer = session.createConsumer(session.createQueue(SINK));
        consumer.setMessageListener(m -> drained.incrementAndGet());
        long cpu = processCpuNanos();
        double messages = wrk(broker, script, "/api/messages", seconds);
        double messagesCpu = (processCpuNanos() - cpu) / 1e3 / (messages * seconds);
        consumer.close();
        session.close();
        purge(broker, SINK);
        return new Rate(messages, messagesCpu);
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
     * @return the latencies in microseconds
     */
    private static Histogram latency(Connection connection, String in, String out, double perSecond, int count) throws Exception {
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
        return micros;
    }
}
