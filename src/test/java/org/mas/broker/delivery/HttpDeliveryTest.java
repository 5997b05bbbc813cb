package org.mas.broker.delivery;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import jakarta.jms.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * External systems reached over HTTP: a 2xx acknowledges, anything else is retried, then dead-lettered. The timeouts
 * are far above what a local endpoint takes to answer on a busy machine (3 s for the HTTP call, 5 s for an
 * acknowledgment), so only the endpoint that never answers ever times out.
 */
class HttpDeliveryTest {

    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);

    @TempDir
    static Path dataDir;
    static RunningBroker broker;
    static HttpServer endpoints;
    static final CountDownLatch RELEASE = new CountDownLatch(1);
    static final AtomicInteger CRM_CALLS = new AtomicInteger();
    static final AtomicInteger ERP_CALLS = new AtomicInteger();
    static final AtomicInteger BOOKS_CALLS = new AtomicInteger();
    static final AtomicInteger SILENT_CALLS = new AtomicInteger();
    static final List<String> CRM_BODIES = new CopyOnWriteArrayList<>();
    static final List<String> CRM_IDS = new CopyOnWriteArrayList<>();
    static final List<String> REGISTERED_BODIES = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        endpoints = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        endpoints.createContext("/crm", exchange -> {
            CRM_BODIES.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            CRM_IDS.add(exchange.getRequestHeaders().getFirst("mas_id"));
            respond(exchange, CRM_CALLS.incrementAndGet() == 1 ? 500 : 200, "ok");
        });
        endpoints.createContext("/registered", exchange -> {
            REGISTERED_BODIES.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            respond(exchange, 200, "ok");
        });
        endpoints.createContext("/books", exchange -> {
            BOOKS_CALLS.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            respond(exchange, 204, "");
        });
        endpoints.createContext("/erp", exchange -> {
            ERP_CALLS.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            respond(exchange, 500, "database down");
        });
        endpoints.createContext("/silent", exchange -> {
            SILENT_CALLS.incrementAndGet();
            try {
                RELEASE.await(30, TimeUnit.SECONDS); // never answers in time
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            respond(exchange, 200, "too late");
        });
        endpoints.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        endpoints.start();
        String base = "http://127.0.0.1:" + endpoints.getAddress().getPort();
        broker = RunningBroker.start(dataDir, Map.of(
                "MESSAGE_BROKER_ALERT_THRESHOLDS_RETRY_COUNT", "2",
                "MESSAGE_BROKER_ACK_TIMEOUT", String.valueOf(ACK_TIMEOUT.toSeconds()),
                "MESSAGE_BROKER_AGENTS", "[{\"id\":\"crm\",\"endpoint\":\"" + base + "/crm\"},"
                        + "{\"id\":\"erp\",\"endpoint\":\"" + base + "/erp\"},"
                        + "{\"id\":\"books\",\"endpoint\":\"" + base + "/books\"},"
                        + "{\"id\":\"silent\",\"endpoint\":\"" + base + "/silent\"}]"),
                Map.of("mas.http-delivery.timeout-ms", String.valueOf(HTTP_TIMEOUT.toMillis()), "mas.ack.scan-interval-ms", "100"));
    }

    @AfterAll
    static void stop() {
        RELEASE.countDown();
        broker.close();
        endpoints.stop(0);
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Test
    void aTargetThatFailsOnceThenAnswers200GetsTheMessageAndItIsAcknowledged() throws Exception {
        assertThat(broker.postMessage("{\"id\":\"http-crm-1\",\"from_agent\":\"sales\",\"to_agent\":\"crm\","
                + "\"message_type\":\"event\",\"payload\":{\"deal\":42}}").statusCode()).isEqualTo(202);

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(DeliveryLedgerTest.status(broker, "http-crm-1")
                .get("recipients").get(0).get("status").asText()).isEqualTo("acked"));
        assertThat(CRM_CALLS).hasValue(2);
        assertThat(CRM_BODIES.get(1)).contains("\"id\":\"http-crm-1\"").contains("\"deal\":42");
        assertThat(CRM_IDS).containsOnly("http-crm-1");
        // the consume commits just after the 2xx is recorded
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent.crm")).isZero());
        assertThat(DeliveryLedgerTest.events(DeliveryLedgerTest.status(broker, "http-crm-1")))
                .containsExactly("accepted", "queued", "retrying", "acked");
    }

    @Test
    void anAgentRegisteredThroughTheApiWithAnEndpointIsReachedOverHttpAtOnceAndNoLongerOnceDisabled() throws Exception {
        String agent = "registered-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        var created = broker.post("/api/agents", RunningBroker.API_KEY, "application/json", "{\"id\":\"" + agent
                + "\",\"endpoint\":\"http://127.0.0.1:" + endpoints.getAddress().getPort() + "/registered\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(broker.postMessage("{\"id\":\"http-registered-1\",\"from_agent\":\"sales\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"event\",\"payload\":{}}").statusCode()).isEqualTo(202);
        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.status(broker, "http-registered-1")
                .get("recipients").get(0).get("status").asText()).isEqualTo("acked"));
        assertThat(REGISTERED_BODIES).hasSize(1);
        assertThat(REGISTERED_BODIES.get(0)).contains("\"id\":\"http-registered-1\"");

        var disabled = broker.send(java.net.http.HttpRequest.newBuilder(broker.uri("/api/agents/" + agent))
                .header("X-API-Key", RunningBroker.API_KEY).DELETE());
        assertThat(disabled.statusCode()).isEqualTo(200);
        await().untilAsserted(() -> assertThat(broker.context().getRoute("http-delivery-" + agent)).isNull());
    }

    @Test
    void aTwoHundredAnswerCompletesARequiresAckMessageForGood() throws Exception {
        broker.postMessage("{\"id\":\"http-books-1\",\"from_agent\":\"sales\",\"to_agent\":\"books\","
                + "\"message_type\":\"command\",\"payload\":{},\"requires_ack\":true}");

        await().untilAsserted(() -> assertThat(DeliveryLedgerTest.status(broker, "http-books-1")
                .get("recipients").get(0).get("status").asText()).isEqualTo("acked"));
        // well past ack_timeout (counted from the send, before this wait): the endpoint's answer was the
        // acknowledgment, nothing is sent again
        await().during(ACK_TIMEOUT.plusMillis(1500)).atMost(ACK_TIMEOUT.plusSeconds(15))
                .untilAsserted(() -> assertThat(BOOKS_CALLS).hasValue(1));
        assertThat(DeliveryLedgerTest.status(broker, "http-books-1").get("recipients").get(0).get("status").asText())
                .isEqualTo("acked");
    }

    @Test
    void aTargetThatKeepsFailingIsDeadLetteredWithTheStatusAndTheBody() throws Exception {
        broker.postMessage("{\"id\":\"http-erp-1\",\"from_agent\":\"sales\",\"to_agent\":\"erp\",\"message_type\":\"event\",\"payload\":{}}");

        Message dead = broker.deadLetter("http-erp-1");
        assertThat(dead.getStringProperty("mas_error")).startsWith("HTTP 500 from http://127.0.0.1:").endsWith("/erp: database down");
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(3);
        assertThat(dead.getStringProperty("mas_target")).isEqualTo("mas.agent.erp");
        assertThat(ERP_CALLS).hasValue(3);
        await().untilAsserted(() -> assertThat(broker.depth("mas.agent.erp")).isZero());
        assertThat(DeliveryLedgerTest.status(broker, "http-erp-1").get("recipients").get(0).get("status").asText())
                .isEqualTo("dead_lettered");
    }

    @Test
    void aTargetThatNeverAnswersIsDeadLetteredAfterTheTimeouts() throws Exception {
        broker.postMessage("{\"id\":\"http-silent-1\",\"from_agent\":\"sales\",\"to_agent\":\"silent\",\"message_type\":\"event\",\"payload\":{}}");

        Message dead = broker.deadLetter("http-silent-1");
        assertThat(dead.getStringProperty("mas_error")).containsIgnoringCase("timeout");
        assertThat(dead.getIntProperty("mas_attempts")).isEqualTo(3);
        assertThat(SILENT_CALLS).hasValue(3);
    }

}
