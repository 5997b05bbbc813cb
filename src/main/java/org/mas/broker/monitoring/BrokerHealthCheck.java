package org.mas.broker.monitoring;

import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.ConnectionFactory;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

import org.mas.broker.queues.EmbeddedArtemis;

/** Readiness and liveness of the broker: the embedded server is active, or an external one accepts a connection. */
public class BrokerHealthCheck extends AbstractHealthCheck {

    private final EmbeddedArtemis embedded;
    private final ConnectionFactory connectionFactory;

    public BrokerHealthCheck(EmbeddedArtemis embedded, ConnectionFactory connectionFactory) {
        super("mas", "broker");
        this.embedded = embedded;
        this.connectionFactory = connectionFactory;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        if (embedded != null) {
            boolean active = embedded.isStarted() && embedded.server().isActive();
            builder.detail("broker", "embedded");
            if (active) {
                builder.up();
            } else {
                builder.message("embedded Artemis is not active").down();
            }
            return;
        }
        builder.detail("broker", "external");
        try (Connection connection = connectionFactory.createConnection()) {
            connection.createSession().close();
            builder.up();
        } catch (Exception e) {
            builder.message("cannot connect to the broker: " + e.getMessage()).down();
        }
    }
}
