package org.mas.broker.monitoring;

import java.sql.Connection;
import java.util.Map;

import javax.sql.DataSource;

import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/** Readiness and liveness of the delivery ledger's databases: each answers a connection validity check. */
public class LedgerHealthCheck extends AbstractHealthCheck {

    private final Map<String, DataSource> stores;

    public LedgerHealthCheck(Map<String, DataSource> stores) {
        super("mas", "ledger-databases");
        this.stores = stores;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        for (Map.Entry<String, DataSource> store : stores.entrySet()) {
            try (Connection connection = store.getValue().getConnection()) {
                if (!connection.isValid(2)) {
                    builder.message("ledger store '" + store.getKey() + "' does not answer").down();
                    return;
                }
            } catch (Exception e) {
                builder.message("ledger store '" + store.getKey() + "' is unreachable: " + e.getMessage()).down();
                return;
            }
        }
        builder.up();
    }
}
