package org.mas.broker.identity;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import org.mas.broker.MasNames;

/**
 * The one statement of what an agent may be, for every way one is declared: configuration (message_broker.agents),
 * POST /api/agents and POST /api/queues. The limits are those of the registry table (db/queues/V2__agent_registry.sql),
 * so an agent that passes here also fits there.
 *
 * <p>A problem reads {@code "<field>: <what is wrong>"}, the field one of id, capabilities, roles, endpoint: the caller
 * puts its own path in front ({@code $.} in an API answer, {@code message_broker.agents[2].} in configuration).
 */
public final class AgentSpec {

    /** The endpoint column is VARCHAR(2048). */
    public static final int MAX_ENDPOINT_LENGTH = 2048;
    /** 100 capabilities of at most 128 characters, as a JSON array, fit the capabilities column (VARCHAR(65536)). */
    public static final int MAX_CAPABILITIES = 100;

    private static final Pattern HTTP_URL = Pattern.compile("^https?://[^\\s/?#]+[^\\s]*$");

    private AgentSpec() {
    }

    /** Every problem of an agent (an empty list: it is valid). Null lists count as empty; a null endpoint is none. */
    public static List<String> problems(String id, List<String> capabilities, List<String> roles, String endpoint) {
        List<String> problems = new ArrayList<>();
        idProblems(id).forEach(problem -> problems.add("id: " + problem));
        List<String> offered = capabilities == null ? List.of() : capabilities;
        if (offered.size() > MAX_CAPABILITIES) {
            problems.add("capabilities: at most " + MAX_CAPABILITIES + ", got " + offered.size());
        }
        for (String capability : offered) {
            if (!MasNames.isCapability(capability)) {
                problems.add("capabilities: '" + abbreviate(capability) + "' is not a capability name ("
                        + MasNames.CAPABILITY_REGEX + ")");
            }
        }
        twice("capabilities", offered, problems);
        List<String> held = roles == null ? List.of() : roles;
        for (String role : held) {
            if (!MasNames.ROLE_MONITOR.equals(role)) {
                problems.add("roles: '" + abbreviate(role) + "' is not a role (the only role is '" + MasNames.ROLE_MONITOR + "')");
            }
        }
        twice("roles", held, problems);
        if (endpoint != null && !isEndpoint(endpoint)) {
            problems.add("endpoint: " + endpointRule() + ", got '" + abbreviate(endpoint) + "'");
        }
        return problems;
    }

    /**
     * What is wrong with an agent id, without a field name (POST /api/queues names it {@code $.agent}): not a valid id,
     * or one with another meaning to the broker.
     */
    public static List<String> idProblems(String id) {
        if (id == null) {
            return List.of("required, a string");
        }
        if (!MasNames.isAgentId(id)) {
            return List.of("must match " + MasNames.AGENT_ID_REGEX + ", got '" + abbreviate(id) + "'");
        }
        if (id.equals(MasNames.BROADCAST)) {
            return List.of("'" + id + "' is reserved: it addresses every agent");
        }
        if (id.equals(MasNames.ROUTER_USER)) {
            return List.of("'" + id + "' is reserved: it is the router's own user");
        }
        if (MasNames.capabilityOf(id) != null) {
            return List.of("'" + abbreviate(id) + "' is reserved: ids starting with '" + MasNames.CAPABILITY_RECIPIENT_PREFIX
                    + "' name capabilities, whose queues " + MasNames.CAPABILITY_QUEUE_PREFIX
                    + "<name> the router makes for the agents that offer them");
        }
        return List.of();
    }

    /** What an endpoint must be, for a message about one that is not. */
    public static String endpointRule() {
        return "an http:// or https:// URL with a host, at most " + MAX_ENDPOINT_LENGTH + " characters";
    }

    private static boolean isEndpoint(String endpoint) {
        if (endpoint.length() > MAX_ENDPOINT_LENGTH || !HTTP_URL.matcher(endpoint).matches()) {
            return false;
        }
        try {
            return new URI(endpoint).getHost() != null;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    private static void twice(String field, List<String> values, List<String> problems) {
        Set<String> seen = new HashSet<>();
        Set<String> reported = new HashSet<>();
        for (String value : values) {
            if (value != null && !seen.add(value) && reported.add(value)) {
                problems.add(field + ": '" + abbreviate(value) + "' is listed twice");
            }
        }
    }

    static String abbreviate(String text) {
        if (text == null) {
            return "null";
        }
        return text.length() > 100 ? text.substring(0, 100) + "..." : text;
    }
}
