package org.mas.broker.queues;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.identity.AgentSpec;
import org.mas.broker.rest.RestResponses;

/**
 * GET/POST /api/queues, GET/DELETE /api/queues/{name}, POST /api/queues/{name}/purge. Names outside {@code mas.}
 * are refused with 400: the API cannot touch the broker's own addresses. Bean name {@code queuesApi}.
 */
public class QueuesApi {


    private final QueueAdmin admin;
    private final Runnable queuesChanged;
    private final RestResponses responses;

    /** @param queuesChanged told when an agent queue was created or deleted (the known agents are read again) */
    public QueuesApi(QueueAdmin admin, Runnable queuesChanged, RestResponses responses) {
        this.admin = admin;
        this.queuesChanged = queuesChanged;
        this.responses = responses;
    }

    public void list(Exchange exchange) throws Exception {
        responses.json(exchange, 200, Map.of("queues", admin.list()));
    }

    public void get(Exchange exchange) throws Exception {
        String name = name(exchange);
        if (name == null) {
            return;
        }
        Optional<QueueAdmin.QueueInfo> queue = admin.get(name);
        if (queue.isPresent()) {
            responses.json(exchange, 200, queue.get());
        } else {
            notFound(exchange, name);
        }
    }

    /** Body {@code {"agent": ..., "max_depth"?: n, "ttl"?: seconds}}: 201, 400, 409 if it exists. */
    public void create(Exchange exchange) throws Exception {
        JsonNode body = org.mas.broker.rest.JsonBodies.readRequest(exchange);
        if (body == null) {
            return;
        }
        String agent = body == null || !body.path("agent").isTextual() ? null : body.get("agent").asText();
        List<String> problems = AgentSpec.idProblems(agent);
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid queue request", problems.stream().map(p -> "$.agent: " + p).toList());
            return;
        }
        Long maxDepth = positive(body, "max_depth");
        Long ttl = positive(body, "ttl");
        if ((body.has("max_depth") && maxDepth == null) || (body.has("ttl") && ttl == null)) {
            RestResponses.error(exchange, 400, "invalid queue request", List.of("max_depth and ttl: whole numbers > 0"));
            return;
        }
        exchange.setProperty(MasNames.PROPERTY_AUDIT_TARGET, MasNames.agentQueue(agent));
        if (admin.get(MasNames.agentQueue(agent)).isPresent()) {
            RestResponses.error(exchange, 409, "queue exists", List.of(MasNames.agentQueue(agent) + " already exists"));
            return;
        }
        QueueAdmin.QueueInfo created = admin.createAgentQueue(agent, maxDepth, ttl);
        queuesChanged.run();
        responses.json(exchange, 201, created);
    }

    /** 409 unless empty or {@code ?force=true}. */
    public void delete(Exchange exchange) throws Exception {
        String name = agentQueueName(exchange, false);
        if (name == null) {
            return;
        }
        Optional<QueueAdmin.QueueInfo> queue = admin.get(name);
        if (queue.isEmpty()) {
            notFound(exchange, name);
            return;
        }
        boolean force = "true".equalsIgnoreCase(exchange.getIn().getHeader("force", String.class));
        if (queue.get().depth() > 0 && !force) {
            RestResponses.error(exchange, 409, "queue not empty",
                    List.of(name + " holds " + queue.get().depth() + " message(s): purge it, or delete with ?force=true"));
            return;
        }
        admin.delete(name);
        queuesChanged.run();
        responses.json(exchange, 200, Map.of("name", name, "deleted", true, "messages_dropped", queue.get().depth()));
    }

    public void purge(Exchange exchange) throws Exception {
        String name = agentQueueName(exchange, true);
        if (name == null) {
            return;
        }
        if (admin.get(name).isEmpty()) {
            notFound(exchange, name);
            return;
        }
        responses.json(exchange, 200, Map.of("name", name, "purged", admin.purge(name)));
    }

    /** The {name} path parameter, or null after answering 400 for a name outside mas. */
    private static String name(Exchange exchange) {
        String name = exchange.getIn().getHeader("name", String.class);
        if (!QueueAdmin.isMasQueue(name)) {
            RestResponses.error(exchange, 400, "not a MAS queue", List.of("only queues named mas.* can be managed here"));
            return null;
        }
        return name;
    }

    /**
     * Only agent queues can be deleted, and agent or capability queues purged: mas.dlq has its own audited API, the
     * others are the broker's (a capability queue is the router's, made for the agents that offer it).
     */
    private static String agentQueueName(Exchange exchange, boolean capabilityToo) {
        exchange.setProperty(MasNames.PROPERTY_AUDIT_TARGET, exchange.getIn().getHeader("name", String.class));
        String name = name(exchange);
        boolean capability = name != null && name.startsWith(MasNames.CAPABILITY_QUEUE_PREFIX);
        if (name != null && !name.startsWith(MasNames.AGENT_QUEUE_PREFIX) && !(capabilityToo && capability)) {
            RestResponses.error(exchange, 400, "not an agent queue", List.of(capability
                    ? "capability queues are the router's: they can be purged, not deleted"
                    : "only mas.agent.* queues can be deleted or purged here (mas.capability.* purged); dead letters: /api/dlq"));
            return null;
        }
        return name;
    }

    private static void notFound(Exchange exchange, String name) {
        RestResponses.error(exchange, 404, "unknown queue", List.of("no queue named " + name));
    }

    private static Long positive(JsonNode body, String field) {
        JsonNode value = body.get(field);
        return value != null && value.canConvertToLong() && value.isIntegralNumber() && value.asLong() > 0 ? value.asLong() : null;
    }
}
