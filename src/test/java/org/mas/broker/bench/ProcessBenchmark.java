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
        command.addAll(List.of("-jar", "target/mas-message-broker.jar"));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("broker.log").toFile());
        builder.environment().put("MESSAGE_BROKER_DATA_DIR", dir.resolve("data").toString());
        builder.environment().put("MAS_HTTP_PORT", String.valueOf(httpPort));
        builder.environment().put("MAS_EMBEDDED_BROKER_ACCEPTOR", "tcp://127.0.0.1:" + brokerPort + "?protocols=CORE,AMQP,STOMP");
        System.out.printf("setup: java -Xmx%s -jar target/mas-message-broker.jar (embedded broker and databases), java %s, "
                + "%d cores; backlog of %d persistent 1 KiB messages on one agent queue%n", maxHeap,
                System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(), backlog);
        long launched = System.nanoTime();
        Process broker = builder.start();
        try {
            while (!get(httpPort, "/observe/health").contains("\"UP\"")) {
                if (!broker.isAlive() || System.nanoTime() - launched > TimeUnit.SECONDS.toNanos(120)) {
                    throw new IllegalStateException("the broker did not become ready; see " + dir.resolve("broker.log"));
                }
                TimeUnit.MILLISECONDS.sleep(10); // a poll every 10 ms; spinning would slow the start it measures
            }
            double ready = (System.nanoTime() - launched) / 1e9;
            String journal = Files.readAllLines(dir.resolve("broker.log")).stream()
                    .filter(l -> l.contains("Embedded Artemis") && l.contains("journal")).findFirst().orElse("");
            System.out.printf("%n== f1. start-up to ready%nready (/observe/health UP) %.2f s after launch; %s%n", ready,
                    journal.replaceAll(".*journal ", "journal "));
            System.out.printf("RATIO startup_vs_3s=%.2f (%.2f s to ready)%n", ready / 3, ready);

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
