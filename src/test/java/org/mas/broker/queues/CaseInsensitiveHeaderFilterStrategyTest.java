package org.mas.broker.queues;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** CVE-2026-40453: Camel 4.18.0's JMS header filter lets "cAmEl..." properties through; ours does not. */
class CaseInsensitiveHeaderFilterStrategyTest {

    private final CaseInsensitiveHeaderFilterStrategy strategy = new CaseInsensitiveHeaderFilterStrategy();

    @ParameterizedTest
    @ValueSource(strings = {"CamelJmsDestinationName", "camelJmsDestinationName", "cAmElJmsDestinationName",
            "CAMELJMSDESTINATIONNAME", "CamelHttpUri", "org.apache.camel.Something", "ORG.APACHE.CAMEL.x"})
    void camelHeadersInAnyCaseAreFilteredBothWays(String name) {
        assertThat(strategy.applyFilterToExternalHeaders(name, "x", null)).as("in").isTrue();
        assertThat(strategy.applyFilterToCamelHeaders(name, "x", null)).as("out").isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"mas_id", "mas_from", "_AMQ_DUPL_ID", "priority", "campaign"})
    void otherPropertiesPass(String name) {
        assertThat(strategy.applyFilterToExternalHeaders(name, "x", null)).isFalse();
        assertThat(strategy.applyFilterToCamelHeaders(name, "x", null)).isFalse();
    }

}
