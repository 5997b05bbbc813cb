package org.mas.broker.cluster;

import java.nio.file.Path;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RouterPair;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every API answer is the same whichever router gives it: two routers (RouterPair) on one broker and one PostgreSQL.
 */
@Timeout(300)
class ClusterApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static RouterPair pair;

    @BeforeAll
    static void start() throws Exception {
        pair = RouterPair.start(dir, Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        pair.close();
    }

    @Test
    void aMessageAcceptedByRouterOneHasItsStatusOnRouterTwo() throws Exception {
        String agent = Envelopes.uniqueAgent("status");
        String id = "cluster-" + agent;
        assertThat(pair.router(1).postMessage(Envelopes.withId(id, "boss", agent)).statusCode()).isEqualTo(202);
        var response = pair.router(2).get("/api/messages/" + id, RunningBroker.API_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode status = JSON.readTree(response.body());
        assertThat(status.get("recipients").get(0).get("status").asText()).isEqualTo("queued");
    }
}
