package org.mas.broker.monitoring;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.delivery.ledger.LedgerEvent;
import org.mas.broker.queues.QueueAdmin;

/**
 * The broker's own metrics, in the Micrometer registry that Camel exposes on /observe/metrics (Prometheus names:
 * mas_messages_received_total{ingress}, mas_messages_invalid_total{ingress}, mas_messages_routed_total{target_kind},
 * mas_messages_dead_lettered_total{reason}, mas_deliveries_total{outcome}, mas_delivery_latency_seconds{stage},
 * mas_queue_depth{queue}, mas_queue_consumers{queue}, mas_singleton_job_runs_total{job}). Bean name {@code metrics}.
 */
public class BrokerMetrics implements org.apache.camel.StartupListener {

    /** Every series this class exports, as Prometheus names them (docker/ files may only name these). */
    public static final java.util.List<String> EXPORTED = java.util.List.of("mas_messages_received_total",
            "mas_messages_invalid_total", "mas_messages_routed_total", "mas_messages_dead_lettered_total",
            "mas_deliveries_total", "mas_delivery_latency_seconds", "mas_delivery_latency_seconds_bucket",
            "mas_delivery_latency_seconds_count", "mas_delivery_latency_seconds_sum", "mas_delivery_latency_seconds_max",
            "mas_queue_depth", "mas_queue_consumers", "mas_messages_duplicate_total", "mas_ledger_set_aside_total",
            "mas_singleton_job_runs_total");

    /** The route ids of the singleton jobs (routePolicy: singletonJob), counted by the router that runs them. */
    public static final java.util.List<String> SINGLETON_JOBS = java.util.List.of("queue-cleanup", "ledger-cleanup",
            "alert-evaluation");
    /** The label values each labelled counter has: all exported at 0 from start-up, so alert rules see a series. */
    /** The protocols a failed authentication is counted under. */
    public static final java.util.List<String> AUTH_PROTOCOLS = java.util.List.of("core", "amqp", "stomp", "mqtt", "openwire",
            "rest", "other");
    private static final Map<String, java.util.List<String>> KNOWN_LABELS = Map.of(
            "mas.messages.received|ingress", java.util.List.of("jms", "rest", "file", "replay"),
            "mas.messages.invalid|ingress", java.util.List.of("jms", "rest", "file", "replay"),
            "mas.messages.duplicate|ingress", java.util.List.of("jms", "rest", "file"),
            "mas.messages.routed|target_kind", java.util.List.of("agent_queue", "http_endpoint"),
            "mas.messages.dead_lettered|reason", java.util.List.of("unroutable", "backlog", "ack_timeout", "ack_failed",
                    "rejected", "http_error", "delivery_error", "other"),
            "mas.deliveries|outcome", java.util.List.of("queued", "retrying", "acked", "failed", "rejected", "expired",
                    "dead_lettered"),
            "mas.auth.failures|protocol", AUTH_PROTOCOLS,
            "mas.singleton_job.runs|job", SINGLETON_JOBS);

    private final CamelContext context;
    private final QueueAdmin queues;
    private volatile MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<String, QueueGauges> queueGauges = new ConcurrentHashMap<>();

    private final DeliveryStats stats;
    private volatile java.util.function.LongSupplier ledgerSetAside = () -> 0;

    public BrokerMetrics(CamelContext context, QueueAdmin queues, DeliveryStats stats) {
        this.context = context;
        this.queues = queues;
        this.stats = stats;
    }

    /** Camel binds its registry while it starts: looked up on first use. */
    private MeterRegistry registry() {
        MeterRegistry found = registry;
        if (found == null) {
            found = context.getRegistry().findSingleByType(MeterRegistry.class);
            registry = found;
        }
        return found;
    }

    private void count(String name, String tag, String value) {
        Counter counter = counter(name, tag, value);
        if (counter != null) {
            counter.increment();
        }
    }

    private Counter counter(String name, String tag, String value) {
        MeterRegistry meters = registry();
        return meters == null ? null
                : counters.computeIfAbsent(name + '|' + value, k -> Counter.builder(name).tag(tag, value).register(meters));
    }

    /** The ledger's count of records its database refused, exported as mas_ledger_set_aside_total. */
    public void watchLedgerSetAside(java.util.function.LongSupplier setAside) {
        this.ledgerSetAside = setAside;
    }

    /** Once Camel has bound its registry: every labelled counter at 0, and the ledger's set-aside count. */
    @Override
    public void onCamelContextStarted(CamelContext started, boolean alreadyStarted) {
        MeterRegistry meters = registry();
        if (meters == null) {
            return;
        }
        KNOWN_LABELS.forEach((nameAndTag, values) -> {
            String[] parts = nameAndTag.split("\\|");
            values.forEach(value -> counter(parts[0], parts[1], value));
        });
        io.micrometer.core.instrument.FunctionCounter.builder("mas.ledger.set_aside", this, m -> m.ledgerSetAside.getAsLong())
                .description("ledger records the database refused, kept in <data_dir>/db/set-aside.jsonl").register(meters);
    }

    /**
     * A failed authentication (mas_auth_failures_total{protocol}): a connection to the broker refused (the protocol in
     * lower case: core, amqp, stomp, mqtt, openwire) or a REST call without a valid API key (rest).
     */
    public void authFailure(String protocol) {
        String label = protocol == null ? "other" : protocol.toLowerCase(java.util.Locale.ROOT);
        count("mas.auth.failures", "protocol", AUTH_PROTOCOLS.contains(label) ? label : "other");
    }

    /** A run of a singleton job started on this router (mas_singleton_job_runs_total{job}). */
    public void singletonJobRan(String job) {
        count("mas.singleton_job.runs", "job", job);
    }

    /** A transaction of REST requests committed (mas_rest_batch_size: count = commits, sum = requests, max). */
    public void restBatchCommitted(int requests) {
        MeterRegistry meters = registry();
        if (meters != null) {
            io.micrometer.core.instrument.DistributionSummary.builder("mas.rest.batch_size")
                    .description("REST requests per shared transaction").register(meters).record(requests);
        }
    }

    /** A message whose id was accepted before with the same content: not delivered again. */
    public void duplicate(Exchange exchange) {
        count("mas.messages.duplicate", "ingress", ingress(exchange));
    }

    public void received(Exchange exchange) {
        stats.received();
        count("mas.messages.received", "ingress", ingress(exchange));
    }

    public void invalid(Exchange exchange) {
        count("mas.messages.invalid", "ingress", ingress(exchange));
    }

    /** accepted -> queued, measured from the exchange's creation (the message's arrival). */
    public void queuedAfter(Exchange exchange) {
        if (exchange.getProperty(MasNames.PROPERTY_DEAD_LETTERED, false, Boolean.class)) {
            return; // the route continues past a copy parked on mas.dlq: not delivered, and its retries are no latency
        }
        long millis = System.currentTimeMillis() - exchange.getClock().getCreated();
        stats.delivered(millis);
        latency("queued", Duration.ofMillis(millis));
    }

    public void latency(String stage, Duration duration) {
        MeterRegistry meters = registry();
        if (meters != null) {
            timers.computeIfAbsent(stage, s -> Timer.builder("mas.delivery.latency").tag("stage", s)
                    .description("accepted -> queued, and accepted -> acked").publishPercentileHistogram()
                    .publishPercentiles(0.5, 0.95, 0.99).distributionStatisticExpiry(Duration.ofMinutes(1))
                    .register(meters)).record(duration);
        }
    }

    /** p99 of arrival -> queued over about the last minute, ms (0 before any message). */
    public double queuedLatencyP99Millis() {
        return latencyP99Millis("queued");
    }

    /** p99 of arrival -> acknowledged (copies that require an ack) over about the last minute, ms (0 before any). */
    public double ackedLatencyP99Millis() {
        return latencyP99Millis("acked");
    }

    private double latencyP99Millis(String stage) {
        Timer timer = timers.get(stage);
        if (timer == null) {
            return 0;
        }
        for (io.micrometer.core.instrument.distribution.ValueAtPercentile p : timer.takeSnapshot().percentileValues()) {
            if (p.percentile() == 0.99) {
                return p.value(java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        }
        return 0;
    }

    /** A counter's value so far (0 if it never counted). */
    public double total(String name, String tag, String value) {
        Counter counter = counters.get(name + '|' + value);
        return counter == null ? 0 : counter.count();
    }

    /** Copies dead-lettered after all their retries (a delivery error or an acknowledgment that never came). */
    public double exhaustedRetries() {
        return total("mas.messages.dead_lettered", "reason", "delivery_error") + total("mas.messages.dead_lettered", "reason", "ack_timeout")
                + total("mas.messages.dead_lettered", "reason", "ack_failed") + total("mas.messages.dead_lettered", "reason", "http_error");
    }

    /** Every step the ledger records. */
    public void onStep(LedgerEvent event) {
        switch (event.kind()) {
            case QUEUED -> {
                count("mas.messages.routed", "target_kind", "agent_queue");
                count("mas.deliveries", "outcome", "queued");
            }
            case ACKED -> {
                count("mas.deliveries", "outcome", "acked");
                if ("http".equals(event.actor())) {
                    count("mas.messages.routed", "target_kind", "http_endpoint");
                }
            }
            case FAILED, REJECTED, EXPIRED, RETRYING -> count("mas.deliveries", "outcome", event.kind().label);
            case DEAD_LETTERED -> {
                stats.failed();
                count("mas.deliveries", "outcome", "dead_lettered");
                count("mas.messages.dead_lettered", "reason", reason(event.detail()));
            }
            default -> {
                // accepted, replayed, deleted, agent_seen: not deliveries
            }
        }
    }

    /** A few stable reason categories, not the free text (which would make a series per message). */
    static String reason(String detail) {
        if (detail == null) {
            return "other";
        }
        if (detail.startsWith("unroutable")) {
            return "unroutable";
        }
        if (detail.startsWith("no acknowledgment")) {
            return "ack_timeout";
        }
        if (detail.startsWith("rejected by")) {
            return "rejected";
        }
        if (detail.startsWith("failed by")) {
            return "ack_failed";
        }
        if (detail.startsWith("backlog")) {
            return "backlog";
        }
        if (detail.startsWith("HTTP ")) {
            return "http_error";
        }
        return "delivery_error";
    }

    /** Every routing_interval: depth and consumers of every mas.* queue, in one management call. */
    public void refreshQueues() throws Exception {
        MeterRegistry meters = registry();
        if (meters == null) {
            return;
        }
        java.util.List<QueueAdmin.QueueInfo> listed = queues.list();
        java.util.Set<String> names = new java.util.HashSet<>();
        listed.forEach(queue -> names.add(queue.name()));
        // a removed queue's series go with it: the gauges follow the queues, not every queue that ever existed
        for (String gone : queueGauges.keySet().stream().filter(name -> !names.contains(name)).toList()) {
            QueueGauges gauges = queueGauges.remove(gone);
            meters.remove(gauges.depthGauge());
            meters.remove(gauges.consumersGauge());
        }
        for (QueueAdmin.QueueInfo queue : listed) {
            QueueGauges gauges = queueGauges.computeIfAbsent(queue.name(), name -> {
                AtomicLong depth = new AtomicLong();
                AtomicLong consumers = new AtomicLong();
                return new QueueGauges(depth, Gauge.builder("mas.queue.depth", depth, AtomicLong::get).tag("queue", name).register(meters),
                        consumers, Gauge.builder("mas.queue.consumers", consumers, AtomicLong::get).tag("queue", name).register(meters));
            });
            gauges.depth().set(queue.depth());
            gauges.consumers().set(queue.consumers());
        }
    }

    private record QueueGauges(AtomicLong depth, Gauge depthGauge, AtomicLong consumers, Gauge consumersGauge) {
    }

    private static String ingress(Exchange exchange) {
        String ingress = exchange.getIn().getHeader(MasNames.HEADER_INGRESS, String.class);
        return ingress == null ? "unknown" : ingress;
    }
}
