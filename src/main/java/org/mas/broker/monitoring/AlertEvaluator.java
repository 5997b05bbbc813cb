package org.mas.broker.monitoring;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerSettings;
import org.mas.broker.queues.QueueAdmin;

/**
 * Evaluates the alert thresholds every routing_interval: queue_size per queue, delivery_latency (p99 arrival -> queued
 * and arrival -> acked), failure_rate (dead-lettered / delivered since the last evaluation) and retry_count reached (copies
 * dead-lettered after every retry). A crossing publishes one JSON event on the multicast address mas.alerts and logs a
 * WARN; the recovery publishes "resolved". One event per crossing, never one per evaluation. Bean name {@code alerts}.
 */
public class AlertEvaluator {

    public record Alert(String alert, String severity, String subject, double value, double threshold, String state,
                        String at) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(AlertEvaluator.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int HISTORY = 200;

    private final CamelContext context;
    private final BrokerSettings.AlertThresholds thresholds;
    private final QueueAdmin queues;
    private final BrokerMetrics metrics;
    private final Map<String, Alert> active = new LinkedHashMap<>();
    private final Deque<Alert> history = new ArrayDeque<>();
    private double lastDelivered;
    private double lastFailed;
    private double lastExhausted;
    private ProducerTemplate producer;

    public AlertEvaluator(CamelContext context, BrokerSettings.AlertThresholds thresholds, QueueAdmin queues,
                          BrokerMetrics metrics) {
        this.context = context;
        this.thresholds = thresholds;
        this.queues = queues;
        this.metrics = metrics;
    }

    public synchronized void evaluate() throws Exception {
        Set<String> firing = new HashSet<>();
        for (QueueAdmin.QueueInfo queue : queues.list()) {
            check(firing, "queue_size", "warning", queue.name(), queue.depth(), thresholds.queueSize());
        }
        check(firing, "delivery_latency", "warning", "accepted->queued p99 ms", metrics.queuedLatencyP99Millis(),
                thresholds.deliveryLatency());
        check(firing, "delivery_latency", "warning", "accepted->acked p99 ms", metrics.ackedLatencyP99Millis(),
                thresholds.deliveryLatency());
        double delivered = metrics.total("mas.deliveries", "outcome", "queued") + metrics.total("mas.deliveries", "outcome", "acked");
        double failed = metrics.total("mas.deliveries", "outcome", "dead_lettered");
        double exhausted = metrics.exhaustedRetries();
        double deliveredNow = delivered - lastDelivered;
        double failedNow = failed - lastFailed;
        double rate = deliveredNow + failedNow == 0 ? 0 : failedNow / (deliveredNow + failedNow);
        check(firing, "failure_rate", "critical", "deliveries", rate, thresholds.failureRate());
        check(firing, "retry_count", "warning", "copies dead-lettered after " + thresholds.retryCount() + " retries",
                exhausted - lastExhausted, 0);
        lastDelivered = delivered;
        lastFailed = failed;
        lastExhausted = exhausted;
        for (String key : new ArrayList<>(active.keySet())) {
            if (!firing.contains(key)) {
                Alert was = active.remove(key);
                publish(new Alert(was.alert(), was.severity(), was.subject(), 0, was.threshold(), "resolved",
                        Instant.now().toString()));
            }
        }
    }

    /** Fires once when {@code value} goes over {@code threshold}, and stays active (silent) while it stays over. */
    private void check(Set<String> firing, String alert, String severity, String subject, double value, double threshold) {
        if (value <= threshold) {
            return;
        }
        String key = alert + '|' + subject;
        firing.add(key);
        if (!active.containsKey(key)) {
            Alert event = new Alert(alert, severity, subject, value, threshold, "firing", Instant.now().toString());
            active.put(key, event);
            publish(event);
        }
    }

    private void publish(Alert alert) {
        history.addFirst(alert);
        while (history.size() > HISTORY) {
            history.removeLast();
        }
        LOG.warn("Alert {} {} for {}: {} (threshold {})", alert.alert(), alert.state(), alert.subject(), alert.value(),
                alert.threshold());
        try {
            if (producer == null) {
                producer = context.createProducerTemplate();
            }
            producer.sendBody("jmsNonTx:topic:" + MasNames.ALERTS + "?exchangePattern=InOnly", MAPPER.writeValueAsString(alert));
        } catch (Exception e) {
            LOG.warn("Could not publish alert {} on {}: {}", alert.alert(), MasNames.ALERTS, e.toString());
        }
    }

    /** GET /api/alerts. */
    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("active", List.copyOf(active.values()));
        body.put("history", List.copyOf(history));
        return body;
    }
}
