package org.mas.broker.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.ChildProcesses;
import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * README's Python agent, docs/examples/python_agent.py, as the MAS's agents run it: Debian's python3-stomp against a
 * broker that refuses anonymous connections. It registers nothing itself: the test registers it (POST /api/agents),
 * then the script connects with its secret, sends a request to itself and one to its capability, consumes both
 * (its own queue and the capability queue) and acknowledges them. .ci/run installs python3-stomp and sets
 * MAS_REQUIRE_PYTHON_AGENT=true, so CI fails rather than skips when it is missing.
 */
class PythonAgentTest {

    private static final Path SCRIPT = Path.of("docs", "examples", "python_agent.py");
    private static final String PYTHON = "/usr/bin/python3";
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final RunningBroker BROKER = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_SECURITY_ALLOW_ANONYMOUS", "false"));

    @Test
    void theExampleAgentConnectsWithItsSecretConsumesItsQueuesAndAcknowledges() throws Exception {
        requireStompPy();
        String agent = Envelopes.uniqueAgent("py");
        HttpResponseJson registered = register("{\"id\":\"" + agent + "\",\"capabilities\":[\"summarize\"]}");
        assertThat(registered.status).as(registered.body.toString()).isEqualTo(201);
        String secret = registered.body.get("secret").asText();

        Path output = Files.createTempFile("python-agent", ".log");
        ProcessBuilder builder = new ProcessBuilder(PYTHON, SCRIPT.toString(), "--port", String.valueOf(BROKER.brokerPort()),
                "--agent", agent, "--capability", "summarize", "--send", agent, "--send-capability", "summarize",
                "--count", "2", "--timeout", "60")
                .redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("MAS_AGENT_SECRET", secret);
        Process process = builder.start();
        try {
            assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("the script stops by itself").isTrue();
        } finally {
            ChildProcesses.stop(process, Duration.ofSeconds(5));
        }
        String log = Files.readString(output, StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as(log).isZero();
        assertThat(log).contains("connected as " + agent, "sent to_agent=" + agent, "sent to_capability=summarize",
                "queue=mas.agent." + agent, "queue=mas.capability.summarize", "done: handled 2 messages");
        List<String> acked = log.lines().filter(line -> line.startsWith("acked id=")).map(line -> line.substring(9)).toList();
        assertThat(acked).hasSize(2);
        // the broker's own record: each message acknowledged, the capability's by this agent
        for (String id : acked) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonNode status = JSON.readTree(BROKER.get("/api/messages/" + id, RunningBroker.API_KEY).body());
                assertThat(status.get("recipients").get(0).get("status").asText()).as(status.toString()).isEqualTo("acked");
            });
        }
    }

    @Test
    void aWrongSecretIsRefusedAndTheScriptSaysSo() throws Exception {
        requireStompPy();
        String agent = Envelopes.uniqueAgent("py-wrong");
        assertThat(register("{\"id\":\"" + agent + "\"}").status).isEqualTo(201);
        ProcessBuilder builder = new ProcessBuilder(PYTHON, SCRIPT.toString(), "--port", String.valueOf(BROKER.brokerPort()),
                "--agent", agent, "--count", "1", "--timeout", "20").redirectErrorStream(true);
        builder.environment().put("MAS_AGENT_SECRET", "not-the-secret");
        Process process = builder.start();
        String log;
        try {
            log = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            ChildProcesses.stop(process, Duration.ofSeconds(5));
        }
        assertThat(process.exitValue()).as(log).isEqualTo(2);
        assertThat(log).contains("refused the connection for agent " + agent).doesNotContain("not-the-secret");
    }

    private record HttpResponseJson(int status, JsonNode body) {
    }

    private static HttpResponseJson register(String json) throws IOException, InterruptedException {
        var response = BROKER.post("/api/agents", RunningBroker.API_KEY, "application/json", json);
        return new HttpResponseJson(response.statusCode(), JSON.readTree(response.body()));
    }

    /** Skips on a developer machine without python3-stomp; fails in CI (.ci/run sets MAS_REQUIRE_PYTHON_AGENT). */
    private static void requireStompPy() throws Exception {
        boolean available;
        try {
            Process probe = new ProcessBuilder(PYTHON, "-c", "import stomp").redirectErrorStream(true).start();
            probe.getInputStream().readAllBytes();
            available = probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0;
        } catch (IOException e) {
            available = false;
        }
        if (!available && Boolean.parseBoolean(System.getenv("MAS_REQUIRE_PYTHON_AGENT"))) {
            throw new AssertionError(PYTHON + " cannot import stomp: install Debian's python3-stomp");
        }
        Assumptions.assumeTrue(available, PYTHON + " with stomp.py (Debian: python3-stomp) is not installed");
    }
}
