package org.mas.broker.queues;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import org.mas.broker.monitoring.BrokerMetrics;

import static org.assertj.core.api.Assertions.assertThat;

/** The Prometheus rules and the Grafana dashboard parse, and name only metrics the broker exports. */
class DockerFilesTest {

    private static final Pattern METRIC = Pattern.compile("\\bmas_[a-z_]+");

    private static Set<String> metricsIn(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }

    @Test
    void alertRulesParseAndNameExportedMetrics() throws Exception {
        String text = Files.readString(Path.of("docker/prometheus/mas-alert-rules.yml"));
        @SuppressWarnings("unchecked")
        Map<String, Object> rules = (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(text);
        assertThat(rules).containsKey("groups");
        assertThat(text).contains("MasQueueBacklog", "MasDeliveryLatencyHigh", "MasFailureRateHigh", "MasRetriesExhausted");
        assertThat(metricsIn(text)).isNotEmpty().isSubsetOf(BrokerMetrics.EXPORTED);
    }

    @Test
    void dashboardParsesAndNamesExportedMetrics() throws Exception {
        String text = Files.readString(Path.of("docker/grafana/mas-dashboard.json"));
        JsonNode dashboard = new ObjectMapper().readTree(text);
        assertThat(dashboard.get("panels")).isNotEmpty();
        Set<String> named = metricsIn(text);
        assertThat(named).isSubsetOf(BrokerMetrics.EXPORTED)
                .contains("mas_queue_depth", "mas_deliveries_total", "mas_delivery_latency_seconds_bucket");
    }
}
