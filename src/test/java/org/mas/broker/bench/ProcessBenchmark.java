package org.mas.broker.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.test.AvailablePortFinder;

import org.mas.broker.support.ChildProcesses;

/**
 * Section f of docs/benchmarks.md, on the packaged broker as an operator starts it ({@code java -jar}, embedded
 * default): time from process launch to ready (/observe/health UP), then heap and RSS idle and with a 100,000-message
 * backlog on one agent queue, and whether the broker still answers. The JVM gets a fixed heap limit (argument 1,
 * default 256m) so that "bounded" is a claim that can fail (OutOfMemoryError). Not a test: bench/run runs it.
 */
public final class ProcessBenchmark {

    private static final Pattern HEAP_USED = Pattern.compile("jvm_memory_used_bytes\\{area=\"heap\"[^}]*} ([0-9.E+]+)");
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private ProcessBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String maxHeap = args.length > 0 ? args[0] : "256m";
        int backlog = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        Path dir = Files.createTempDirectory("mas-bench-process");
        int httpPort = AvailablePortFinder.getNextAvailable();
        int brokerPort = AvailablePortFinder.getNextAvailable();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + maxHeap));
        String nativeDir = System.getProperty("mas.native-dir");
        if (nativeDir != null) {
            command.add("-Djava.library.path=" + nativeDir);
        }
        String jvmArgs = System.getProperty("bench.jvm-args", ""); // e.g. -XX:SharedArchiveFile=..., to compare
        if (!jvmArgs.isBlank()) {
            command.addAll(List.of(jvmArgs.trim().split("\\s+")));
        }
        command.addAll(List.of("-jar", "target/mas-message-broker.jar"));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("MAS_HTTP_PORT", String.valueOf(httpPort));
        builder.environment().put("MAS_EMBEDDED_BROKER_ACCEPTOR", "tcp://127.0.0.1:" + brokerPort + "?protocols=CORE,AMQP,STOMP");
        System.out.printf("setup: java -Xmx%s %s-jar target/mas-message-broker.jar (embedded broker and databases), java %s, "
                + "%d cores; backlog of %d persistent 1 KiB messages on one agent queue%n", maxHeap,
                jvmArgs.isBlank() ? "" : jvmArgs.trim() + " ", System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(), backlog);
        int launches = Integer.getInteger("bench.startups", 5);
        System.out.printf("%n== f1. start-up to ready (%d launches with a fresh data dir, %d with an existing one, "
                + "alternately; each stopped with SIGTERM before the next)%n", launches, launches);
        Path existing = dir.resolve("existing");
        List<Startup> fresh = new ArrayList<>();
        List<Startup> again = new ArrayList<>();
        readyTime(builder, existing, httpPort, "prepare"); // makes the existing data dir (journal, databases)
        for (int i = 0; i < launches; i++) {
            fresh.add(readyTime(builder, dir.resolve("fresh-" + i), httpPort, "fresh " + (i + 1)));
            again.add(readyTime(builder, existing, httpPort, "existing " + (i + 1)));
        }
        String journal = fresh.get(0).journal;
        Startup freshMedian = median(fresh);
        Startup existingMedian = median(again);
        System.out.printf("ready (/observe/health UP) after launch, median of %d [min-max]: fresh data dir %s; existing "
                + "data dir %s; %s%n", launches, summary(fresh), summary(again), journal);
        System.out.printf("where the time goes (the median fresh launch, from its log): %s%n", freshMedian.phases);
        System.out.printf("RATIO startup_vs_3s=%.2f (%.2f s to ready, fresh data dir, median)%n", freshMedian.seconds / 3,
                freshMedian.seconds);
        System.out.printf("RATIO startup_existing_vs_3s=%.2f (%.2f s to ready, existing data dir, median)%n",
                existingMedian.seconds / 3, existingMedian.seconds);
        if (Boolean.getBoolean("bench.f1-only")) {
            return;
        }

        builder.environment().put("MESSAGE_BROKER_DATA_DIR", dir.resolve("data").toString());
        // f2's producer fills the queue directly, without an agent's credentials (loopback, this run only)
        builder.environment().put("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "true");
        builder.redirectOutput(dir.resolve("broker.log").toFile());
        long launched = System.nanoTime();
        Process broker = builder.start();
        try {
            while (!get(httpPort, "/observe/health").contains("\"UP\"")) {
                if (!broker.isAlive() || System.nanoTime() - launched > TimeUnit.SECONDS.toNanos(120)) {
                    throw new IllegalStateException("the broker did not become ready; see " + dir.resolve("broker.log"));
                }
                TimeUnit.MILLISECONDS.sleep(10);
            }
            System.out.printf("%n== f2. memory with a %d-message backlog%n", backlog);
            Memory idle = memory(broker.pid(), httpPort);
            System.out.printf("idle:               %s%n", idle);
            long start = System.nanoTime();
            String paging;
            try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + brokerPort
                    + "?blockOnDurableSend=false&confirmationWindowSize=1048576");
                 Connection connection = factory.createConnection()) {
                Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
                MessageProducer producer = session.createProducer(session.createQueue("mas.agent.bench-backlog"));
                producer.setDeliveryMode(DeliveryMode.PERSISTENT);
                String body = RouterBenchmark.envelope("x".repeat(860));
                for (int i = 0; i < backlog; i++) {
                    producer.send(session.createTextMessage(body));
                }
                connection.start();
                jakarta.jms.QueueRequestor management = new jakarta.jms.QueueRequestor((jakarta.jms.QueueSession) session,
                        session.createQueue("activemq.management"));
                jakarta.jms.Message request = session.createMessage();
                org.apache.activemq.artemis.api.jms.management.JMSManagementHelper.putAttribute(request,
                        "address.mas.agent.bench-backlog", "paging");
                paging = String.valueOf(org.apache.activemq.artemis.api.jms.management.JMSManagementHelper.getResult(
                        management.request(request)));
            }
            String queue = "";
            while (!queue.contains("\"depth\":" + backlog)) {
                queue = get(httpPort, "/api/queues/mas.agent.bench-backlog", "mas-dev-key-change-me");
                if (System.nanoTime() - start > TimeUnit.MINUTES.toNanos(5)) {
                    throw new IllegalStateException("backlog not complete: " + queue);
                }
            }
            System.out.printf("%d messages on mas.agent.bench-backlog in %.1f s%n", backlog, (System.nanoTime() - start) / 1e9);
            Memory loaded = memory(broker.pid(), httpPort);
            System.out.printf("with the backlog:   %s%n", loaded);
            long t = System.nanoTime();
            String health = get(httpPort, "/observe/health");
            double healthMs = (System.nanoTime() - t) / 1e6;
            t = System.nanoTime();
            int other = post(httpPort, "{\"from_agent\":\"bench\",\"to_agent\":\"bench-other\",\"message_type\":\"event\",\"payload\":{}}");
            double otherMs = (System.nanoTime() - t) / 1e6;
            int swamped = post(httpPort, "{\"from_agent\":\"bench\",\"to_agent\":\"bench-backlog\",\"message_type\":\"event\",\"payload\":{}}");
            System.out.printf("responsive: health %s in %.1f ms; POST for another agent %d in %.1f ms; POST for the backlogged "
                    + "agent %d (backlog limit); address paging (management): %s; OutOfMemoryError in log: %s%n",
                    health.contains("\"UP\"") ? "UP" : health, healthMs, other, otherMs, swamped, paging,
                    Files.readString(dir.resolve("broker.log")).contains("OutOfMemoryError") ? "YES" : "no");
            System.out.printf("RATIO backlog_heap_vs_idle=%.2f (heap after GC %.0f MiB with %d waiting, %.0f MiB idle; RSS %.0f MiB, "
                    + "limit -Xmx%s)%n", loaded.heapMiB / idle.heapMiB, loaded.heapMiB, backlog, idle.heapMiB, loaded.rssMiB, maxHeap);
        } finally {
            ChildProcesses.stop(broker, Duration.ofSeconds(60)); // SIGTERM, then SIGKILL after 60 s
        }
    }

    /** One launch: seconds from launch to health UP, the process's CPU seconds by then, and its log's phases. */
    record Startup(double seconds, double cpuSeconds, String journal, String phases) {
    }

    /**
     * Launches the broker on {@code data}, waits for /observe/health UP (a poll every 10 ms), reads its CPU time and
     * log, then stops it with SIGTERM and waits for it to be gone.
     */
    private static Startup readyTime(ProcessBuilder builder, Path data, int httpPort, String label)
            throws Exception {
        Path log = data.resolveSibling(data.getFileName() + ".log");
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", data.toString());
        builder.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Files.writeString(log, "");
        long launched = System.nanoTime();
        Process broker = builder.start();
        Startup startup;
        try {
            while (!get(httpPort, "/observe/health").contains("\"UP\"")) {
                if (!broker.isAlive() || System.nanoTime() - launched > TimeUnit.SECONDS.toNanos(120)) {
                    throw new IllegalStateException("the broker did not become ready; see " + log);
                }
                TimeUnit.MILLISECONDS.sleep(10); // a poll every 10 ms; spinning would slow the start it measures
            }
            double ready = (System.nanoTime() - launched) / 1e9;
            double cpu = cpuSeconds(broker.pid());
            List<String> lines = Files.readAllLines(log);
            String journal = lines.stream().filter(l -> l.contains("Embedded Artemis") && l.contains("journal")).findFirst()
                    .orElse("").replaceAll(".*journal ", "journal ");
            startup = new Startup(ready, cpu, journal, phases(lines, ready));
        } finally {
            if (!ChildProcesses.stop(broker, Duration.ofSeconds(60))) {
                System.out.printf("(%s: the broker did not stop within 60 s of SIGTERM)%n", label);
            }
        }
        System.out.printf("  %-10s ready in %.2f s, %.2f s CPU%n", label, startup.seconds, startup.cpuSeconds);
        return startup;
    }

    private static final Pattern LOG_TIME = Pattern.compile("^(\\d\\d):(\\d\\d):(\\d\\d)\\.(\\d{3}) ");

    /**
     * The log's milestones, as seconds after the first line (Camel Main starting): the ledger databases ready, the
     * embedded broker started, the Camel context started; the JVM's own start is what comes before the first line.
     */
    static String phases(List<String> lines, double ready) {
        String[][] milestones = {
                {"Camel Main", "Apache Camel (Main)"}, {"databases", "Ledger store 'delivery' ready"},
                {"broker", "Embedded Artemis"}, {"context", ") started in "}};
        StringBuilder out = new StringBuilder();
        double first = -1;
        double last = -1;
        for (String[] milestone : milestones) {
            for (String line : lines) {
                Matcher m = LOG_TIME.matcher(line);
                if (line.contains(milestone[1]) && m.find()) {
                    double t = Integer.parseInt(m.group(1)) * 3600 + Integer.parseInt(m.group(2)) * 60
                            + Integer.parseInt(m.group(3)) + Integer.parseInt(m.group(4)) / 1000.0;
                    if (first < 0) {
                        first = t;
                    }
                    last = t;
                    out.append(out.length() == 0 ? "" : ", ").append(milestone[0]).append(" +")
                            .append(String.format("%.2f", t - first)).append(" s");
                    break;
                }
            }
        }
        return out + String.format(" (log lines after the first; ready %.2f s after launch)", ready);
    }

    private static Startup median(List<Startup> runs) {
        List<Startup> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(Startup::seconds));
        return sorted.get(sorted.size() / 2);
    }

    private static String summary(List<Startup> runs) {
        double[] seconds = runs.stream().mapToDouble(Startup::seconds).sorted().toArray();
        double[] cpu = runs.stream().mapToDouble(Startup::cpuSeconds).sorted().toArray();
        return String.format("%.2f s [%.2f-%.2f] (CPU %.2f s [%.2f-%.2f])", seconds[seconds.length / 2], seconds[0],
                seconds[seconds.length - 1], cpu[cpu.length / 2], cpu[0], cpu[cpu.length - 1]);
    }

    /** utime + stime of a process, from /proc (clock ticks of 1/100 s). */
    private static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
    }

    record Memory(double heapMiB, double rssMiB) {
        @Override
        public String toString() {
            return String.format("heap used after a full GC %6.1f MiB, RSS %6.1f MiB", heapMiB, rssMiB);
        }
    }

    /** Heap used after a full GC (jcmd GC.run, then the broker's own jvm_memory_used_bytes), and the process's RSS. */
    private static Memory memory(long pid, int httpPort) throws Exception {
        Process gc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                String.valueOf(pid), "GC.run").redirectErrorStream(true).start();
        try {
            gc.getInputStream().readAllBytes();
            if (!gc.waitFor(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("jcmd " + pid + " GC.run did not finish within 60 s");
            }
        } finally {
            ChildProcesses.kill(gc);
        }
        Matcher heap = HEAP_USED.matcher(get(httpPort, "/observe/metrics"));
        double bytes = 0;
        while (heap.find()) {
            bytes += Double.parseDouble(heap.group(1));
        }
        long rssKb = Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        return new Memory(bytes / 1024 / 1024, rssKb / 1024.0);
    }

    private static String get(int port, String path) {
        return get(port, path, null);
    }

    private static String get(int port, String path, String apiKey) {
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(10));
            if (apiKey != null) {
                request.header("X-API-Key", apiKey);
            }
            return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static int post(int port, String json) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/messages"))
                .header("X-API-Key", "mas-dev-key-change-me").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }
}
