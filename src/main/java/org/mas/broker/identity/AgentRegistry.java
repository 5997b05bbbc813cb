package org.mas.broker.identity;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import javax.sql.DataSource;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.config.BrokerSettings;

/**
 * The agent registry (contract section 7), in {@code databases.queues} (table {@code agents}): who an agent is (its
 * secret's bcrypt hash), what it may do (roles) and what it offers (capabilities). Agents come from configuration
 * (origin {@code config}, upserted at start, read-only through the API) and from {@code POST /api/agents} (origin
 * {@code api}). A snapshot in memory answers every read, so authentication never waits for the database; changes are
 * written through (one at a time), then told to the {@link #subscribe listeners} (the embedded broker's security).
 */
public class AgentRegistry implements CapabilityDirectory {

    /** What changed: an agent registered (or registered again), got a new secret, or was disabled. */
    public record Change(Kind kind, RegisteredAgent agent) {
        public enum Kind { REGISTERED, SECRET_ROTATED, DISABLED }
    }

    /** A new registration or a rotated secret: the secret itself, shown to the caller once. */
    public record Issued(RegisteredAgent agent, String secret) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(AgentRegistry.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {
    };

    private final DataSource database;
    private final int bcryptCost;
    private final String unknownAgentHash;
    private final Map<String, RegisteredAgent> agents = new ConcurrentHashMap<>();
    private final List<Consumer<Change>> listeners = new CopyOnWriteArrayList<>();

    /** @param bcryptCost log2 of bcrypt's rounds, 4..31 (12 by default: about a quarter of a second per check) */
    public AgentRegistry(DataSource database, int bcryptCost) {
        if (bcryptCost < 4 || bcryptCost > 31) {
            throw new IllegalArgumentException("bcrypt cost must be 4..31, got " + bcryptCost);
        }
        this.database = database;
        this.bcryptCost = bcryptCost;
        this.unknownAgentHash = Secrets.hash(Secrets.newSecret(), bcryptCost);
    }

    /**
     * Reads the registry and upserts the agents declared in configuration (origin config): their hash, capabilities,
     * roles and endpoint as configured. A config agent no longer in the configuration is disabled.
     */
    public synchronized void load(List<BrokerSettings.Agent> configured) throws SQLException {
        agents.clear();
        try (Connection connection = database.getConnection();
             PreparedStatement select = connection.prepareStatement("SELECT id, secret_hash, capabilities, roles, endpoint, "
                     + "enabled, origin, created_at, updated_at FROM agents");
             ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                RegisteredAgent agent = new RegisteredAgent(rows.getString(1), rows.getString(2), strings(rows.getString(3)),
                        strings(rows.getString(4)), rows.getString(5), rows.getBoolean(6), rows.getString(7),
                        rows.getTimestamp(8).toInstant(), rows.getTimestamp(9).toInstant());
                agents.put(agent.id(), agent);
            }
        }
        Instant now = now();
        Set<String> declared = new TreeSet<>();
        for (BrokerSettings.Agent agent : configured) {
            declared.add(agent.id());
            RegisteredAgent old = agents.get(agent.id());
            if (old != null && old.fromConfig() && old.enabled() && Objects.equals(old.secretHash(), agent.secretHash())
                    && old.capabilities().equals(agent.capabilities()) && old.roles().equals(agent.roles())
                    && Objects.equals(old.endpoint(), agent.endpoint())) {
                continue; // as configured already
            }
            RegisteredAgent updated = new RegisteredAgent(agent.id(), agent.secretHash(), agent.capabilities(), agent.roles(),
                    agent.endpoint(), true, RegisteredAgent.ORIGIN_CONFIG, old == null ? now : old.createdAt(), now);
            write(updated, old != null);
            agents.put(updated.id(), updated);
        }
        for (RegisteredAgent agent : List.copyOf(agents.values())) {
            if (agent.fromConfig() && agent.enabled() && !declared.contains(agent.id())) {
                RegisteredAgent disabled = agent.with(agent.secretHash(), false, now);
                write(disabled, true);
                agents.put(disabled.id(), disabled);
                LOG.info("Agent {} is no longer in message_broker.agents: disabled", agent.id());
            }
        }
        LOG.info("Agent registry: {} enabled agent(s), {} from configuration", enabledAgentIds().size(), declared.size());
    }

    public void subscribe(Consumer<Change> listener) {
        listeners.add(listener);
    }

    public Optional<RegisteredAgent> find(String id) {
        return Optional.ofNullable(id == null ? null : agents.get(id));
    }

    /** Every agent, enabled or not, by id. */
    public List<RegisteredAgent> list() {
        return agents.values().stream().sorted(Comparator.comparing(RegisteredAgent::id)).toList();
    }

    /**
     * Registers an agent through the API with a new secret. A disabled agent registered through the API may be
     * registered again (new secret, new capabilities); an enabled one, or one declared in configuration, may not.
     */
    public synchronized Issued register(String id, List<String> capabilities, List<String> roles, String endpoint)
            throws RegistryException, SQLException {
        RegisteredAgent old = agents.get(id);
        if (old != null && old.enabled()) {
            throw old.fromConfig() ? readOnly(id) : new RegistryException(RegistryException.Reason.EXISTS,
                    "agent '" + id + "' is already registered");
        }
        String secret = Secrets.newSecret();
        Instant now = now();
        RegisteredAgent agent = new RegisteredAgent(id, Secrets.hash(secret, bcryptCost), capabilities, roles, endpoint, true,
                RegisteredAgent.ORIGIN_API, old == null ? now : old.createdAt(), now);
        write(agent, old != null);
        agents.put(id, agent);
        LOG.info("Agent {} registered: capabilities {}, roles {}{}", id, capabilities, roles, old == null ? "" : " (again)");
        notify(new Change(Change.Kind.REGISTERED, agent));
        return new Issued(agent, secret);
    }

    /** A new secret; the old one stops working (the broker closes the agent's connections). */
    public synchronized Issued rotate(String id) throws RegistryException, SQLException {
        RegisteredAgent old = changeable(id);
        String secret = Secrets.newSecret();
        RegisteredAgent agent = old.with(Secrets.hash(secret, bcryptCost), true, now());
        write(agent, true);
        agents.put(id, agent);
        LOG.info("Agent {}: secret rotated", id);
        notify(new Change(Change.Kind.SECRET_ROTATED, agent));
        return new Issued(agent, secret);
    }

    /** Disables an agent: it can no longer connect, and its open connections are closed. */
    public synchronized RegisteredAgent disable(String id) throws RegistryException, SQLException {
        RegisteredAgent old = changeable(id);
        RegisteredAgent agent = old.with(old.secretHash(), false, now());
        write(agent, true);
        agents.put(id, agent);
        LOG.info("Agent {} disabled", id);
        notify(new Change(Change.Kind.DISABLED, agent));
        return agent;
    }

    /**
     * The enabled agent whose secret this is; empty for an unknown, disabled or secret-less agent or a wrong secret.
     * Takes bcrypt's time in every case, so the answer's timing does not tell which agents exist.
     */
    public Optional<RegisteredAgent> authenticate(String id, String secret) {
        RegisteredAgent agent = id == null ? null : agents.get(id);
        if (agent == null || !agent.enabled() || agent.secretHash() == null) {
            Secrets.matches(secret == null ? "" : secret, unknownAgentHash);
            return Optional.empty();
        }
        boolean matches = Secrets.matches(secret == null ? "" : secret, agent.secretHash());
        // rotated or disabled while bcrypt ran: the record that was checked is no longer the agent's
        return matches && agents.get(id) == agent ? Optional.of(agent) : Optional.empty();
    }

    /**
     * True while this record is still the agent's current, enabled one: an authentication made with it holds until the
     * agent's secret is rotated or the agent is disabled (then every later permission check fails).
     */
    public boolean isCurrent(RegisteredAgent record) {
        return record != null && record.enabled() && agents.get(record.id()) == record;
    }

    /** The ids of the enabled agents (broadcast recipients). */
    public Set<String> enabledAgentIds() {
        Set<String> ids = new TreeSet<>();
        agents.values().stream().filter(RegisteredAgent::enabled).forEach(a -> ids.add(a.id()));
        return ids;
    }

    public boolean isEnabled(String agentId) {
        RegisteredAgent agent = agentId == null ? null : agents.get(agentId);
        return agent != null && agent.enabled();
    }

    /** The capabilities that at least one enabled agent offers. */
    public Set<String> offeredCapabilities() {
        Set<String> offered = new TreeSet<>();
        agents.values().stream().filter(RegisteredAgent::enabled).forEach(a -> offered.addAll(a.capabilities()));
        return offered;
    }

    /** True if at least one enabled agent offers the capability. */
    @Override
    public boolean isOffered(String capability) {
        return agents.values().stream().anyMatch(a -> a.enabled() && a.capabilities().contains(capability));
    }

    /** True if the agent is enabled and registered with this capability. */
    @Override
    public boolean offers(String agentId, String capability) {
        RegisteredAgent agent = agentId == null ? null : agents.get(agentId);
        return agent != null && agent.enabled() && agent.capabilities().contains(capability);
    }

    private RegisteredAgent changeable(String id) throws RegistryException {
        RegisteredAgent agent = agents.get(id);
        if (agent == null) {
            throw new RegistryException(RegistryException.Reason.UNKNOWN, "no agent '" + id + "'");
        }
        if (agent.fromConfig()) {
            throw readOnly(id);
        }
        if (!agent.enabled()) {
            throw new RegistryException(RegistryException.Reason.DISABLED, "agent '" + id
                    + "' is disabled: register it again with POST /api/agents");
        }
        return agent;
    }

    private static RegistryException readOnly(String id) {
        return new RegistryException(RegistryException.Reason.READ_ONLY, "agent '" + id
                + "' is declared in configuration (message_broker.agents): change it there");
    }

    private void notify(Change change) {
        for (Consumer<Change> listener : listeners) {
            try {
                listener.accept(change);
            } catch (RuntimeException e) {
                LOG.warn("A listener of agent {} ({}) failed: {}", change.agent().id(), change.kind(), e.toString());
            }
        }
    }

    private void write(RegisteredAgent agent, boolean exists) throws SQLException {
        String sql = exists
                ? "UPDATE agents SET secret_hash = ?, capabilities = ?, roles = ?, endpoint = ?, enabled = ?, origin = ?, "
                        + "created_at = ?, updated_at = ? WHERE id = ?"
                : "INSERT INTO agents (secret_hash, capabilities, roles, endpoint, enabled, origin, created_at, updated_at, id) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
        try (Connection connection = database.getConnection(); PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, agent.secretHash());
            statement.setString(2, json(agent.capabilities()));
            statement.setString(3, json(agent.roles()));
            statement.setString(4, agent.endpoint());
            statement.setBoolean(5, agent.enabled());
            statement.setString(6, agent.origin());
            statement.setTimestamp(7, Timestamp.from(agent.createdAt()));
            statement.setTimestamp(8, Timestamp.from(agent.updatedAt()));
            statement.setString(9, agent.id());
            statement.executeUpdate();
        }
    }

    /** Millisecond precision: what both databases keep, so a record read back equals the one written. */
    private static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MILLIS);
    }

    private static String json(List<String> values) {
        try {
            return MAPPER.writeValueAsString(values);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> strings(String json) throws SQLException {
        try {
            return json == null ? List.of() : MAPPER.readValue(json, STRINGS);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new SQLException("agents: not a JSON array of strings: " + json, e);
        }
    }

    /** @return every enabled agent (for the broker's security at start) */
    public List<RegisteredAgent> enabledAgents() {
        List<RegisteredAgent> enabled = new ArrayList<>();
        for (RegisteredAgent agent : list()) {
            if (agent.enabled()) {
                enabled.add(agent);
            }
        }
        return enabled;
    }
}
