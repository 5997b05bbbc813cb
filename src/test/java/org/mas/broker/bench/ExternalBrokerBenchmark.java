package org.mas.broker.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

import jakarta.jms.Connection;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;

import org.mas.broker.support.ChildProcesses;

import static org.awaitility.Awaitility.await;

/**
 * Section i of docs/benchmarks.md: the router's own cost, apart from the broker's. A standalone Artemis (the 2.56.0
 * distribution the build unpacks; {@code artemis create} of an instance of its own, ASYNCIO journal with datasync as
 * the embedded broker, anonymous connections allowed, one CORE acceptor on a loopback port) runs as its own process,
 * the router as the packaged jar in another JVM with {@code broker_url} pointing at it, and this JVM is the load
 * generator (one JMS producer, one consumer, as in section a). In {@link Rounds#COUNT} rounds: raw Artemis
 * (producer -> queue -> consumer against that broker), the routed path (mas.inbound -> router -> agent queue), raw
 * again, ...; over each measured window the CPU time of each process is read from /proc/&lt;pid&gt;/stat
 * (utime + stime; the broker's and the router's with their descendants, if any) and divided by the messages moved.
 * The load generator's figure includes its own JIT compilation, which on a busy machine goes on for minutes.
 * Not a test: bench/run runs it. Arguments: messages per path and round (default 50,000), the Artemis home (default
 * target/apache-artemis-2.56.0), the router jar (default target/mas-message-broker.jar).
 */
public final class ExternalBrokerBenchmark {

    private static final String SINK = "mas.agent.bench-sink";
    private static final Duration START_TIMEOUT = Duration.ofMinutes(2);
    private static final List<Process> STARTED = new ArrayList<>();

    private ExternalBrokerBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 50_000;
        Path artemisHome = Path.of(args.length > 1 ? args[1] : "target/apache-artemis-2.56.0").toAbsolutePath();
        Path jar = Path.of(args.length > 2 ? args[2] : "target/mas-message-broker.jar").toAbsolutePath();
        int warm = Math.max(1_000, count / 5);
        Path dir = Files.createTempDirectory("mas-bench-external");
        // whatever happens (an exception, Ctrl-C of bench/run), the two processes started here do not outlive this JVM
        Runtime.getRuntime().addShutdownHook(new Thread(ExternalBrokerBenchmark::killAll, "bench-kill-children"));
        boolean ok = false;
        try {
            int brokerPort = freePort();
            int httpPort = freePort();
            while (httpPort == brokerPort) {
                httpPort = freePort();
            }
            Process broker = startBroker(artemisHome, dir, brokerPort);
            Process router = startRouter(jar, dir, brokerPort, httpPort);
            section("i. the router's own cost against an external broker: standalone Artemis, the router jar and the "
                    + "load generator in three processes");
            System.out.printf("setup: Artemis %s distribution (artemis create --aio --no-autotune --allow-anonymous, "
                            + "datasync on, the distribution's JVM options), its own process, CORE on tcp://127.0.0.1:%d; "
                            + "the router: java -jar %s, broker_url tcp://127.0.0.1:%d, ledger on (H2 in its data "
                            + "directory), REST on %d; the load generator: this JVM, one JMS producer (async sends) and "
                            + "one consumer; persistent 1 KiB envelopes, %d messages per path and round (warm-up %d "
                            + "before each), %d rounds; CPU from /proc/<pid>/stat (utime+stime, %d ticks/s)%n",
                    artemisHome.getFileName().toString().replace("apache-artemis-", ""), brokerPort,
                    Path.of("").toAbsolutePath().relativize(jar), brokerPort, httpPort, count,
                    warm, Rounds.COUNT, TICKS);
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + brokerPort
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
            try (Connection connection = factory.createConnection()) {
                connection.start();
                String envelope = RouterBenchmark.envelope("x".repeat(860));
                long[] pids = {broker.pid(), router.pid(), ProcessHandle.current().pid()};

                // a first warm-up of both paths (three fresh JVMs to compile, journal files, queues created)
                RouterBenchmark.throughput(connection, "bench.raw", "bench.raw", envelope, count);
                RouterBenchmark.throughput(connection, "mas.inbound", SINK, envelope, count);

                List<Measured> raws = new ArrayList<>();
                Rounds.Series routed = new Rounds.Series();
                List<Double> routerVsBroker = new ArrayList<>();
                List<Measured> routes = new ArrayList<>();
                Measured before = measure(connection, "bench.raw", "bench.raw", envelope, warm, count, pids, 1, "raw");
                raws.add(before);
                for (int r = 1; r <= Rounds.COUNT; r++) {
                    Measured route = measure(connection, "mas.inbound", SINK, envelope, warm, count, pids, r, "router (jar)");
                    Measured after = measure(connection, "bench.raw", "bench.raw", envelope, warm, count, pids, r, "raw");
                    raws.add(after);
                    routes.add(route);
                    routed.add(route.perSecond, Rounds.around(before.perSecond, after.perSecond), route.cpu[1]);
                    routerVsBroker.add(route.cpu[1] / route.cpu[0]);
                    before = after;
                }
                for (Process p : List.of(broker, router)) {
                    if (!p.isAlive()) {
                        throw new IllegalStateException("process " + p.pid() + " died during the measurement: see " + dir);
                    }
                }
                double rawRate = Rounds.median(raws.stream().map(m -> m.perSecond).toList());
                double rawBroker = median(raws, 0);
                double rawRouterIdle = median(raws, 1);
                double rawLoad = median(raws, 2);
                double routeBroker = median(routes, 0);
                double routeRouter = median(routes, 1);
                double routeLoad = median(routes, 2);
                System.out.printf("raw Artemis (external)   %8.0f msg/s; CPU per message: broker %5.0f us, load generator "
                        + "%5.0f us, router (idle) %4.0f us (medians of %d measurements)%n", rawRate, rawBroker, rawLoad,
                        rawRouterIdle, raws.size());
                System.out.printf("router jar, ledger on    %8.0f msg/s; CPU per message: broker %5.0f us, router %5.0f us, "
                        + "load generator %5.0f us (medians of %d round(s))%n", routed.rate(), routeBroker, routeRouter,
                        routeLoad, routed.size());
                System.out.printf("the broker's CPU per routed message is %.2fx its CPU per raw message (a routed message "
                        + "passes through it twice: mas.inbound, then the agent queue)%n", routeBroker / rawBroker);
                System.out.printf("RATIO external_route_vs_raw=%.2f (%s; router %s msg/s, raw %s msg/s medians, both "
                        + "against the external broker)%n", routed.ratio(), routed.spread(), Rounds.n(routed.rate()),
                        Rounds.n(routed.baseline()));
                double n = Rounds.median(routerVsBroker);
                System.out.printf("RATIO router_cpu_vs_broker_cpu=%.2f (%s; router %.0f us/msg, broker %.0f us/msg per routed "
                                + "message, medians): at this rate one broker needs about %.1f routers of the same size "
                                + "(N = router CPU per message / broker CPU per message: a saturated broker moves 1/%.0f us "
                                + "of messages per core, a router 1/%.0f us)%n", n, Rounds.spread(routerVsBroker),
                        routeRouter, routeBroker, n, routeBroker, routeRouter);
            } finally {
                factory.close();
            }
            ok = true;
        } finally {
            stopAll();
            if (ok) {
                deleteRecursively(dir);
            } else {
                System.out.println("section i failed: the broker's and the router's logs are under " + dir);
            }
        }
    }

    /** A rate, and the CPU per message of the broker, the router and this JVM (in that order), in microseconds. */
    record Measured(double perSecond, double[] cpu) {
    }

    private static double median(List<Measured> measured, int process) {
        return Rounds.median(measured.stream().map(m -> m.cpu[process]).toList());
    }

    private static Measured measure(Connection connection, String in, String out, String envelope, int warm, int count,
                                    long[] pids, int round, String what) throws Exception {
        RouterBenchmark.throughput(connection, in, out, envelope, warm);
        AtomicLongArray ticks = new AtomicLongArray(pids.length * 2);
        RouterBenchmark.Rate rate = RouterBenchmark.throughput(connection, in, out, envelope, count,
                () -> snapshot(pids, ticks, 0), () -> snapshot(pids, ticks, pids.length));
        double[] cpu = new double[pids.length];
        for (int i = 0; i < pids.length; i++) {
            cpu[i] = (ticks.get(pids.length + i) - ticks.get(i)) * 1e6 / TICKS / count;
        }
        System.out.printf(Locale.ROOT, "%s  %-14s %8.0f msg/s; CPU per message: broker %5.0f us, router %5.0f us%s, load "
                        + "generator %5.0f us%n", Rounds.round(round), what, rate.perSecond(), cpu[0], cpu[1],
                what.equals("raw") ? " (idle)" : "", cpu[2]);
        return new Measured(rate.perSecond(), cpu);
    }

    // ---- CPU from /proc ----------------------------------------------------------------------------------------

    /** Clock ticks per second of /proc/<pid>/stat's utime and stime (getconf CLK_TCK; 100 on Linux). */
    private static final long TICKS = clockTicks();

    private static long clockTicks() {
        try {
            Process getconf = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(getconf.getInputStream().readAllBytes()).trim();
            getconf.waitFor(10, TimeUnit.SECONDS);
            return Long.parseLong(out);
        } catch (Exception e) {
            return 100;
        }
    }

    private static void snapshot(long[] pids, AtomicLongArray into, int offset) {
        long self = ProcessHandle.current().pid();
        for (int i = 0; i < pids.length; i++) {
            // this JVM's descendants are the broker and the router: not the load generator's
            into.set(offset + i, pids[i] == self ? ownTicks(self) : cpuTicks(pids[i]));
        }
    }

    /** utime + stime of the process and its live descendants (if bin/artemis did not exec its JVM), in clock ticks. */
    static long cpuTicks(long pid) {
        long ticks = ownTicks(pid);
        ProcessHandle handle = ProcessHandle.of(pid).orElse(null);
        if (handle != null) {
            for (ProcessHandle child : handle.descendants().toList()) {
                ticks += Math.max(0, ownTicks(child.pid()));
            }
        }
        return ticks;
    }

    private static long ownTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // after "pid (comm) ": state is field 3; utime and stime are fields 14 and 15
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the CPU time of process " + pid, e);
        }
    }

    // ---- the processes -----------------------------------------------------------------------------------------

    /** {@code artemis create} of an instance under {@code dir/broker}, then {@code artemis run}; returns once it is active. */
    private static Process startBroker(Path home, Path dir, int port) throws Exception {
        Path artemis = home.resolve("bin/artemis");
        if (!Files.isExecutable(artemis)) {
            throw new IllegalStateException("no Artemis distribution at " + home + " (bench/run unpacks it into target/)");
        }
        Path instance = dir.resolve("broker");
        Process create = start(new ProcessBuilder(artemis.toString(), "create", "--silent", "--force", "--aio",
                "--no-autotune", "--no-web", "--allow-anonymous", "--user", "bench", "--password", "bench", "--role", "amq",
                "--host", "127.0.0.1", "--default-port", Integer.toString(port), "--name", "bench",
                "--no-amqp-acceptor", "--no-stomp-acceptor", "--no-mqtt-acceptor", "--no-hornetq-acceptor",
                instance.toString()), dir.resolve("broker-create.log"));
        if (!create.waitFor(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) || create.exitValue() != 0) {
            throw new IllegalStateException("artemis create failed:\n" + Files.readString(dir.resolve("broker-create.log")));
        }
        // only the CORE protocol on the one acceptor: the router and this JVM speak it
        Path brokerXml = instance.resolve("etc/broker.xml");
        Files.writeString(brokerXml, Files.readString(brokerXml)
                .replace("protocols=CORE,AMQP,STOMP,HORNETQ,MQTT,OPENWIRE", "protocols=CORE"));
        Path log = dir.resolve("broker.log");
        Process broker = start(new ProcessBuilder(instance.resolve("bin/artemis").toString(), "run"), log);
        await().atMost(START_TIMEOUT).pollInterval(Duration.ofMillis(200)).until(() -> {
            if (!broker.isAlive()) {
                throw new IllegalStateException("the broker exited:\n" + Files.readString(log));
            }
            return Files.readString(log).contains("AMQ221007"); // Server is now active
        });
        if (!Files.readString(log).contains("AIO")) {
            System.out.println("note: the external broker's log does not mention AIO; its journal may be NIO");
        }
        return broker;
    }

    /** The packaged jar, broker_url the external broker, anonymous (that broker has no MAS security); once it is UP. */
    private static Process startRouter(Path jar, Path dir, int brokerPort, int httpPort) throws Exception {
        Path data = dir.resolve("router");
        Files.createDirectories(data);
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString());
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", data.toString());
        builder.environment().put("MESSAGE_BROKER_BROKER_URL", "tcp://127.0.0.1:" + brokerPort);
        // that broker authenticates nobody (no registry, no DurableIngressPlugin): the router believes the senders
        builder.environment().put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true");
        builder.environment().put("MAS_HTTP_PORT", Integer.toString(httpPort));
        Path log = dir.resolve("router.log");
        Process router = start(builder, log);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        URI health = URI.create("http://127.0.0.1:" + httpPort + "/observe/health");
        await().atMost(START_TIMEOUT).pollInterval(Duration.ofMillis(200)).ignoreExceptionsInstanceOf(IOException.class).until(() -> {
            if (!router.isAlive()) {
                throw new IllegalStateException("the router exited:\n" + Files.readString(log));
            }
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(health).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 && response.body().contains("\"UP\"");
        });
        return router;
    }

    private static Process start(ProcessBuilder builder, Path log) throws IOException {
        builder.redirectErrorStream(true).redirectOutput(log.toFile());
        synchronized (STARTED) {
            Process process = builder.start();
            STARTED.add(process);
            return process;
        }
    }

    /** SIGTERM to each process started here (the router first), 20 s grace, then SIGKILL to it and its descendants. */
    private static void stopAll() {
        List<Process> processes;
        synchronized (STARTED) {
            processes = new ArrayList<>(STARTED);
        }
        for (int i = processes.size() - 1; i >= 0; i--) {
            ChildProcesses.stop(processes.get(i), Duration.ofSeconds(20));
        }
    }

    /** For the shutdown hook: SIGKILL to whatever is still running. */
    private static void killAll() {
        List<Process> processes;
        synchronized (STARTED) {
            processes = new ArrayList<>(STARTED);
        }
        for (Process p : processes) {
            if (p.isAlive()) {
                ChildProcesses.kill(p);
            }
        }
    }

    /** A free loopback port in 18000-19999 (away from the usual 8080, 61616, ...). */
    private static int freePort() throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 18_000 + ThreadLocalRandom.current().nextInt(2_000);
            try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException busy) {
                // try another
            }
        }
        throw new IOException("no free port in 18000-19999");
    }

    private static void section(String title) {
        System.out.printf("%n== %s%n", title);
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
