package org.mas.broker.identity;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.rest.RestResponses;

/**
 * The agent registry's REST API (scope admin): POST /api/agents, GET /api/agents, GET /api/agents/{id},
 * POST /api/agents/{id}/secret (rotate), DELETE /api/agents/{id} (disable). A secret is in the answer of the call that
 * made it, and nowhere else; a hash never. Agents declared in configuration are read-only here (409).
 * Bean name {@code agentsApi}.
 */
public class AgentsApi {

    private static final Set<String> FIELDS = Set.of("id", "capabilities", "roles", "endpoint");

    private final AgentRegistry registry;
    private final RestResponses responses;

    public AgentsApi(AgentRegistry registry, RestResponses responses) {
        this.registry = registry;
        this.responses = responses;
    }

    /** 201 with the secret; 400 with every problem of the body; 409 if the agent exists (and is enabled). */
    public void register(Exchange exchange) throws Exception {
        JsonNode body = org.mas.broker.rest.JsonBodies.readRequest(exchange);
        if (body == null) {
            return;
        }
        List<String> problems = new ArrayList<>();
        if (body == null || !body.isObject()) {
            RestResponses.error(exchange, 400, "invalid agent", List.of("$: a JSON object {\"id\", \"capabilities\"?, \"roles\"?, \"endpoint\"?}"));
            return;
        }
        body.fieldNames().forEachRemaining(name -> {
            if (!FIELDS.contains(name)) {
                problems.add("$." + name + ": unknown field (known: id, capabilities, roles, endpoint)");
            }
        });
        String id = body.path("id").isTextual() ? body.get("id").asText() : null;
        List<String> capabilities = strings(body, "capabilities", problems);
        List<String> roles = strings(body, "roles", problems);
        String endpoint = null;
        JsonNode endpointNode = body.get("endpoint");
        if (endpointNode != null && !endpointNode.isNull()) {
            if (endpointNode.isTextual()) {
                endpoint = endpointNode.asText();
            } else {
                problems.add("$.endpoint: " + AgentSpec.endpointRule() + ", got " + type(endpointNode));
            }
        }
        AgentSpec.problems(id, capabilities, roles, endpoint).forEach(problem -> problems.add("$." + problem));
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid agent", problems);
            return;
        }
        exchange.setProperty(MasNames.PROPERTY_AUDIT_TARGET, id);
        AgentRegistry.Issued issued;
        try {
            issued = registry.register(id, capabilities, roles, endpoint);
        } catch (RegistryException e) {
            refused(exchange, e);
            return;
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("id", issued.agent().id());
        answer.put("secret", issued.secret());
        answer.putAll(view(issued.agent()));
        answer.remove("updated_at");
        responses.json(exchange, 201, answer);
    }

    public void list(Exchange exchange) {
        responses.json(exchange, 200, Map.of("agents", registry.list().stream().map(AgentsApi::view).toList()));
    }

    public void get(Exchange exchange) throws java.sql.SQLException {
        Optional<RegisteredAgent> agent = known(exchange);
        agent.ifPresent(a -> responses.json(exchange, 200, view(a)));
    }

    /** 200 {@code {id, secret}}: the old secret stops working and the agent's connections are closed. */
    public void rotate(Exchange exchange) throws Exception {
        Optional<RegisteredAgent> agent = known(exchange);
        if (agent.isEmpty()) {
            return;
        }
        try {
            AgentRegistry.Issued issued = registry.rotate(agent.get().id());
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("id", issued.agent().id());
            answer.put("secret", issued.secret());
            responses.json(exchange, 200, answer);
        } catch (RegistryException e) {
            refused(exchange, e);
        }
    }

    /** 200 {@code {id, enabled: false}}, also for an agent disabled before; its connections are closed. */
    public void disable(Exchange exchange) throws Exception {
        Optional<RegisteredAgent> agent = known(exchange);
        if (agent.isEmpty()) {
            return;
        }
        if (agent.get().enabled()) {
            try {
                registry.disable(agent.get().id());
            } catch (RegistryException e) {
                if (e.reason() != RegistryException.Reason.DISABLED) { // disabled meanwhile by another router: done
                    refused(exchange, e);
                    return;
                }
            }
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("id", agent.get().id());
        answer.put("enabled", false);
        responses.json(exchange, 200, answer);
    }

    /** The {id} path parameter's agent, or empty after answering 404. */
    private Optional<RegisteredAgent> known(Exchange exchange) throws java.sql.SQLException {
        String id = exchange.getIn().getHeader("id", String.class);
        Optional<RegisteredAgent> agent = MasNames.isAgentId(id) ? registry.lookup(id) : Optional.empty();
        if (agent.isEmpty()) {
            RestResponses.error(exchange, 404, "unknown agent", List.of("no agent with id '" + AgentSpec.abbreviate(id) + "'"));
        } else {
            exchange.setProperty(MasNames.PROPERTY_AUDIT_TARGET, id);
        }
        return agent;
    }

    private static void refused(Exchange exchange, RegistryException e) {
        switch (e.reason()) {
            case UNKNOWN -> RestResponses.error(exchange, 404, "unknown agent", List.of(e.getMessage()));
            case EXISTS -> RestResponses.error(exchange, 409, "agent exists", List.of(e.getMessage()));
            case DISABLED -> RestResponses.error(exchange, 409, "agent disabled", List.of(e.getMessage()));
            case READ_ONLY -> RestResponses.error(exchange, 409, "agent declared in configuration", List.of(e.getMessage()));
            case CONFLICT -> RestResponses.error(exchange, 409, "agent changed concurrently", List.of(e.getMessage()));
        }
    }

    /** What the API shows of an agent: never its secret nor its hash. */
    static Map<String, Object> view(RegisteredAgent agent) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", agent.id());
        view.put("capabilities", agent.capabilities());
        view.put("roles", agent.roles());
        view.put("endpoint", agent.endpoint());
        view.put("enabled", agent.enabled());
        view.put("origin", agent.origin());
        view.put("can_connect", agent.enabled() && agent.secretHash() != null);
        view.put("created_at", agent.createdAt().toString());
        view.put("updated_at", agent.updatedAt().toString());
        return view;
    }

    /** An optional array of strings (AgentSpec judges them); problems are added for anything else. */
    private static List<String> strings(JsonNode body, String field, List<String> problems) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            problems.add("$." + field + ": an array of strings");
            return List.of();
        }
        List<String> values = new ArrayList<>();
        for (JsonNode item : node) {
            if (item.isTextual()) {
                values.add(item.asText());
            } else {
                problems.add("$." + field + ": an array of strings, got " + type(item));
            }
        }
        return List.copyOf(values);
    }

    private static String type(JsonNode node) {
        return node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }
}
