package org.mas.broker.identity;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
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
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 * written through (one at a time), then told to the {@link #subscribe listeners} (the broker's security).
 * <p>
 * Several processes may share the table (routers of a cluster, the standalone brokers' security managers): every
 * write is conditional on the row's version it read, so none overwrites another's change unseen, and
 * {@link #refreshEvery} picks up the others' changes and tells the listeners as for one made here.
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
    private static final String UNIQUE_VIOLATION = "23505";
    private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {
    };

    private final DataSource database;
    private final int bcryptCost;
    private final String unknownAgentHash;
    private final Map<String, RegisteredAgent> agents = new ConcurrentHashMap<>();
    private final List<Consumer<Change>> listeners = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.AtomicLong refreshFailures = new java.util.concurrent.atomic.AtomicLong();
    private volatile Fingerprint fingerprint;
    private volatile long refreshMillis;

    /** @param bcryptCost log2 of bcrypt's rounds, 4..31 (12 by default: about a quarter of a second per check) */
    public AgentRegistry(DataSource database, int bcryptCost) {
        if (bcryptCost < 4 || bcryptCost > 31) {
            throw new IllegalArgumentException("bcrypt cost must be 4..31, got " + bcryptCost);
        }
        this.database = database;
        this.bcryptCost = bcryptCost;
        this.unknownAgentHash = Secrets.decoyHash(bcryptCost); // what an unknown id is checked against: same bcrypt time
    }

    /**
     * Reads the registry and upserts the agents declared in configuration (origin config): their hash, capabilities,
     * roles and endpoint as configured. A config agent no longer in the configuration is disabled. Routers sharing the
     * database are expected to declare the same agents; a row another one wrote meanwhile is read and judged again.
     */
    public synchronized void load(List<BrokerSettings.Agent> configured) throws SQLException {
        reload();
        Set<String> declared = new TreeSet<>();
        for (BrokerSettings.Agent agent : configured) {
            declared.add(agent.id());
            for (int attempt = 0; ; attempt++) {
                RegisteredAgent old = agents.get(agent.id());
                if (old != null && old.fromConfig() && old.enabled() && Objects.equals(old.secretHash(), agent.secretHash())
                        && old.capabilities().equals(agent.capabilities()) && old.roles().equals(agent.roles())
                        && Objects.equals(old.endpoint(), agent.endpoint())) {
                    break; // as configured already
                }
                Instant now = now();
                RegisteredAgent updated = new RegisteredAgent(agent.id(), agent.secretHash(), agent.capabilities(), agent.roles(),
                        agent.endpoint(), true, RegisteredAgent.ORIGIN_CONFIG, old == null ? now : old.createdAt(), now,
                        old == null ? 1 : old.version() + 1);
                if (write(updated, old)) {
                    agents.put(updated.id(), updated);
                    break;
                }
                adopt(read(agent.id())); // another router wrote it meanwhile: judge its row
                if (attempt == 2) {
                    throw new SQLException("agent " + agent.id() + " keeps changing under message_broker.agents' upsert");
                }
            }
        }
        for (RegisteredAgent agent : List.copyOf(agents.values())) {
            if (agent.fromConfig() && agent.enabled() && !declared.contains(agent.id())) {
                RegisteredAgent disabled = agent.with(agent.secretHash(), false, now());
                if (write(disabled, agent)) {
                    agents.put(disabled.id(), disabled);
                    LOG.info("Agent {} is no longer in message_broker.agents: disabled", agent.id());
                } else {
                    adopt(read(agent.id()));
                }
            }
        }
        LOG.info("Agent registry: {} enabled agent(s), {} from configuration", enabledAgentIds().size(), declared.size());
    }

    /**
     * Reads every agent of the table into the snapshot, without telling the listeners (at start, before they
     * subscribe). A standalone broker's view: it declares no agents of its own.
     */
    public synchronized void reload() throws SQLException {
        Map<String, RegisteredAgent> read = readAll();
        agents.clear();
        agents.putAll(read);
        fingerprint = Fingerprint.of(read.values());
    }

    /**
     * Picks up what other processes sharing the database changed: a cheap check of the rows' count and the sum of
     * their versions, and only when that moved, a read of every row, keeping those whose version is newer than the
     * snapshot's and telling the listeners what changed (REGISTERED, SECRET_ROTATED, DISABLED) as for a change made
     * here. A failure (the database away, the table not made yet by a router) is logged and tried again next time.
     */
    public void refresh() {
        try {
            Fingerprint stored;
            try (Connection connection = database.getConnection();
                 PreparedStatement select = connection.prepareStatement("SELECT COUNT(*), COALESCE(SUM(row_version), 0) FROM agents");
                 ResultSet row = select.executeQuery()) {
                row.next();
                stored = new Fingerprint(row.getLong(1), row.getLong(2));
            }
            if (stored.equals(fingerprint)) {
                return;
            }
            synchronized (this) {
                Map<String, RegisteredAgent> read = readAll();
                for (RegisteredAgent agent : read.values()) {
                    adopt(agent);
                }
                for (RegisteredAgent gone : List.copyOf(agents.values())) {
                    if (!read.containsKey(gone.id())) { // deleted by hand: as good as disabled
                        agents.remove(gone.id());
                        if (gone.enabled()) {
                            notify(new Change(Change.Kind.DISABLED, gone.with(gone.secretHash(), false, now())));
                        }
                    }
                }
                fingerprint = Fingerprint.of(read.values());
            }
            refreshFailures.set(0);
        } catch (SQLException | RuntimeException e) {
            if (refreshFailures.getAndIncrement() % 60 == 0) {
                LOG.warn("Could not read the agent registry's changes (trying again every {} ms): {}", refreshMillis, e.toString());
            }
        }
    }

    /**
     * Calls {@link #refresh} every {@code interval} on the scheduler (which the caller owns and shuts down): for
     * several processes sharing the database (routers in a cluster, a standalone broker's security manager).
     */
    public void refreshEvery(Duration interval, ScheduledExecutorService scheduler) {
        refreshMillis = interval.toMillis();
        scheduler.scheduleWithFixedDelay(this::refresh, refreshMillis, refreshMillis, TimeUnit.MILLISECONDS);
        LOG.info("Agent registry: picking up other processes' changes every {} ms", refreshMillis);
    }

    public void subscribe(Consumer<Change> listener) {
        listeners.add(listener);
    }

    public Optional<RegisteredAgent> find(String id) {
        return Optional.ofNullable(id == null ? null : agents.get(id));
    }

    /**
     * Like {@link #find}, but an agent the snapshot does not know yet is looked for in the database too (registered
     * through another router less than a refresh ago): for the API, never for the message path.
     */
    public Optional<RegisteredAgent> lookup(String id) throws SQLException {
        Optional<RegisteredAgent> known = find(id);
        if (known.isPresent() || id == null) {
            return known;
        }
        synchronized (this) {
            adopt(read(id));
            return find(id);
        }
    }

    /** Every agent, enabled or not, by id. */
    public List<RegisteredAgent> list() {
        return agents.values().stream().sorted(Comparator.comparing(RegisteredAgent::id)).toList();
    }

    /**
     * Registers an agent through the API with a new secret. A disabled agent registered through the API may be
     * registered again (new secret, new capabilities); an enabled one, or one declared in configuration, may not.
     * The write is conditional: a row another router inserted or changed meanwhile is read and judged instead (an
     * enabled one: {@link RegistryException.Reason#EXISTS}), so two routers never both register one id.
     */
    public synchronized Issued register(String id, List<String> capabilities, List<String> roles, String endpoint)
            throws RegistryException, SQLException {
        RegisteredAgent old = lookup(id).orElse(null);
        for (int attempt = 0; ; attempt++) {
            if (old != null && old.enabled()) {
                throw old.fromConfig() ? readOnly(id) : new RegistryException(RegistryException.Reason.EXISTS,
                        "agent '" + id + "' is already registered");
            }
            String secret = Secrets.newSecret();
            Instant now = now();
            RegisteredAgent agent = new RegisteredAgent(id, Secrets.hash(secret, bcryptCost), capabilities, roles, endpoint, true,
                    RegisteredAgent.ORIGIN_API, old == null ? now : old.createdAt(), now, old == null ? 1 : old.version() + 1);
            if (write(agent, old)) {
                agents.put(id, agent);
                LOG.info("Agent {} registered: capabilities {}, roles {}{}", id, capabilities, roles, old == null ? "" : " (again)");
                notify(new Change(Change.Kind.REGISTERED, agent));
                return new Issued(agent, secret);
            }
            old = fresh(id, attempt);
        }
    }

    /**
     * A new secret; the old one stops working (the broker closes the agent's connections). Conditional on the row
     * read: if another router changed the agent meanwhile, the change is judged again once on the row it wrote (so a
     * rotation never re-enables an agent disabled meanwhile, and two rotations apply one after the other).
     */
    public synchronized Issued rotate(String id) throws RegistryException, SQLException {
        RegisteredAgent old = changeable(id);
        for (int attempt = 0; ; attempt++) {
            String secret = Secrets.newSecret();
            RegisteredAgent agent = old.with(Secrets.hash(secret, bcryptCost), true, now());
            if (write(agent, old)) {
                agents.put(id, agent);
                LOG.info("Agent {}: secret rotated", id);
                notify(new Change(Change.Kind.SECRET_ROTATED, agent));
                return new Issued(agent, secret);
            }
            fresh(id, attempt);
            old = changeable(id);
        }
    }

    /** Disables an agent: it can no longer connect, and its open connections are closed. Conditional as {@link #rotate}. */
    public synchronized RegisteredAgent disable(String id) throws RegistryException, SQLException {
        RegisteredAgent old = changeable(id);
        for (int attempt = 0; ; attempt++) {
            RegisteredAgent agent = old.with(old.secretHash(), false, now());
            if (write(agent, old)) {
                agents.put(id, agent);
                LOG.info("Agent {} disabled", id);
                notify(new Change(Change.Kind.DISABLED, agent));
                return agent;
            }
            fresh(id, attempt);
            old = changeable(id);
        }
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

    private RegisteredAgent changeable(String id) throws RegistryException, SQLException {
        RegisteredAgent agent = lookup(id).orElse(null);
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

    /**
     * Writes the agent if its row is still {@code old} (by version; null: no row yet). False if another process got
     * there first: the row's version moved, or the id was inserted meanwhile.
     */
    private boolean write(RegisteredAgent agent, RegisteredAgent old) throws SQLException {
        String sql = old != null
                ? "UPDATE agents SET secret_hash = ?, capabilities = ?, roles = ?, endpoint = ?, enabled = ?, origin = ?, "
                        + "created_at = ?, updated_at = ?, row_version = ? WHERE id = ? AND row_version = ?"
                : "INSERT INTO agents (secret_hash, capabilities, roles, endpoint, enabled, origin, created_at, updated_at, "
                        + "row_version, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        try (Connection connection = database.getConnection(); PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setString(1, agent.secretHash());
            statement.setString(2, json(agent.capabilities()));
            statement.setString(3, json(agent.roles()));
            statement.setString(4, agent.endpoint());
            statement.setBoolean(5, agent.enabled());
            statement.setString(6, agent.origin());
            statement.setTimestamp(7, Timestamp.from(agent.createdAt()));
            statement.setTimestamp(8, Timestamp.from(agent.updatedAt()));
            statement.setLong(9, agent.version());
            statement.setString(10, agent.id());
            if (old != null) {
                statement.setLong(11, old.version());
            }
            return statement.executeUpdate() == 1;
        } catch (SQLException e) {
            if (old == null && UNIQUE_VIOLATION.equals(e.getSQLState())) {
                return false; // inserted by another process meanwhile (PostgreSQL and H2 both say 23505)
            }
            throw e;
        }
    }

    /** After a refused write: the row as another process left it, in the snapshot; twice in a row is a conflict. */
    private RegisteredAgent fresh(String id, int attempt) throws RegistryException, SQLException {
        if (attempt > 0) {
            throw new RegistryException(RegistryException.Reason.CONFLICT, "agent '" + id
                    + "' was changed by another router at the same time, twice: read it and try again");
        }
        RegisteredAgent stored = read(id);
        adopt(stored);
        return stored;
    }

    /**
     * Puts a row read from the database into the snapshot if it is newer than what the snapshot holds, and tells the
     * listeners what changed. Callers hold the lock.
     */
    private void adopt(RegisteredAgent stored) {
        if (stored == null) {
            return;
        }
        RegisteredAgent old = agents.get(stored.id());
        if (old != null && old.version() >= stored.version()) {
            return;
        }
        agents.put(stored.id(), stored);
        Change.Kind kind;
        if (!stored.enabled()) {
            kind = old != null && old.enabled() ? Change.Kind.DISABLED : null;
        } else if (old == null || !old.enabled()) {
            kind = Change.Kind.REGISTERED;
        } else if (!Objects.equals(old.secretHash(), stored.secretHash())) {
            kind = Change.Kind.SECRET_ROTATED;
        } else {
            kind = Change.Kind.REGISTERED; // same secret, new capabilities, roles or endpoint (configuration)
        }
        if (kind != null) {
            LOG.info("Agent {}: {} by another process", stored.id(), kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
            notify(new Change(kind, stored));
        }
    }

    private static final String COLUMNS = "id, secret_hash, capabilities, roles, endpoint, enabled, origin, created_at, "
            + "updated_at, row_version";

    private Map<String, RegisteredAgent> readAll() throws SQLException {
        Map<String, RegisteredAgent> read = new java.util.HashMap<>();
        try (Connection connection = database.getConnection();
             PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM agents");
             ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                RegisteredAgent agent = agent(rows);
                read.put(agent.id(), agent);
            }
        }
        return read;
    }

    /** The agent's row, or null. */
    private RegisteredAgent read(String id) throws SQLException {
        try (Connection connection = database.getConnection();
             PreparedStatement select = connection.prepareStatement("SELECT " + COLUMNS + " FROM agents WHERE id = ?")) {
            select.setString(1, id);
            try (ResultSet rows = select.executeQuery()) {
                return rows.next() ? agent(rows) : null;
            }
        }
    }

    private static RegisteredAgent agent(ResultSet rows) throws SQLException {
        return new RegisteredAgent(rows.getString(1), rows.getString(2), strings(rows.getString(3)), strings(rows.getString(4)),
                rows.getString(5), rows.getBoolean(6), rows.getString(7), rows.getTimestamp(8).toInstant(),
                rows.getTimestamp(9).toInstant(), rows.getLong(10));
    }

    /** How many rows and the sum of their versions: moves with every write (rows are never deleted). */
    private record Fingerprint(long rows, long versions) {
        static Fingerprint of(java.util.Collection<RegisteredAgent> agents) {
            return new Fingerprint(agents.size(), agents.stream().mapToLong(RegisteredAgent::version).sum());
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
