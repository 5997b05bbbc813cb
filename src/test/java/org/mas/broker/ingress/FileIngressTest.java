package org.mas.broker.ingress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import jakarta.jms.TextMessage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class FileIngressTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_MAX_MESSAGE_SIZE", "2048"));
    static Path inbox;

    @BeforeAll
    static void start() throws Exception {
        inbox = broker.dataDir().resolve("inbox");
    }

    /** Writes under a temporary name, then renames: what the README asks of writers. */
    private static void drop(String name, String content) throws Exception {
        Files.createDirectories(inbox);
        Path temporary = inbox.resolve(name + ".part");
        Files.writeString(temporary, content);
        Files.move(temporary, inbox.resolve(name));
    }

    @Test
    void anEnvelopeFileIsQueuedAndMovedToDone() throws Exception {
        String agent = Envelopes.uniqueAgent("filed");
        drop(agent + ".json", Envelopes.withId("file-" + agent, "batch", agent));

        TextMessage message = (TextMessage) broker.receiveOne("mas.agent." + agent);
        assertThat(message).isNotNull();
        assertThat(message.getStringProperty("mas_id")).isEqualTo("file-" + agent);
        assertThat(message.getStringProperty("mas_ingress")).isEqualTo("file");
        await().untilAsserted(() -> assertThat(inbox.resolve(".done").resolve(agent + ".json")).exists());
        assertThat(inbox.resolve(agent + ".json")).doesNotExist();
    }

    @Test
    void anInvalidFileMovesToErrorWithTheReasonBesideIt() throws Exception {
        String name = Envelopes.uniqueAgent("invalid") + ".json";
        drop(name, "{\"from_agent\":\"batch\",\"to_agent\":\"x\",\"message_type\":\"request\"}");

        Path reason = inbox.resolve(".error").resolve(name + ".reason.txt");
        await().untilAsserted(() -> assertThat(inbox.resolve(".error").resolve(name)).exists());
        await().untilAsserted(() -> assertThat(reason).exists());
        assertThat(Files.readString(reason)).contains("required property 'payload' not found");
        assertThat(inbox.resolve(".done").resolve(name)).doesNotExist();
    }

    @Test
    void aFileOverTheSizeLimitIsRejectedUnread() throws Exception {
        String name = Envelopes.uniqueAgent("big") + ".json";
        drop(name, "{\"pad\":\"" + "x".repeat(4096) + "\"}");

        Path reason = inbox.resolve(".error").resolve(name + ".reason.txt");
        await().untilAsserted(() -> assertThat(reason).exists());
        assertThat(Files.readString(reason)).contains("message too large").contains("the limit is 2048");
    }

    @Test
    void otherFilesAreLeftAlone() throws Exception {
        String agent = Envelopes.uniqueAgent("later");
        drop(agent + ".txt", Envelopes.to("batch", agent));
        drop(agent + ".json", Envelopes.to("batch", agent));

        assertThat(broker.receiveOne("mas.agent." + agent)).isNotNull();
        assertThat(inbox.resolve(agent + ".txt")).exists();
    }
}
