package org.mas.broker.rest;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;
import org.apache.camel.Route;
import org.apache.camel.spi.SynchronizationRouteAware;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;

/**
 * The audit trail of operate and admin calls (table audit_events in databases.delivery): one record per call,
 * whatever its outcome (a refused scope, a 404, a success), with the API key's name, the scope, method, path, target,
 * HTTP status and a short detail. Written synchronously once the call's route is done, before the caller gets the
 * answer; a record that cannot be stored is logged in full at ERROR instead and the call keeps its answer (its effect
 * has happened by then). Bean name {@code audit}: GET /api/audit reads the trail.
 */
public class AuditTrail {

    public static final int MAX_LIMIT = 500;
    private static final Logger LOG = LoggerFactory.getLogger(AuditTrail.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final DataSource database;
    private final RestResponses responses;
    private final Clock clock;

    public AuditTrail(DataSource database, RestResponses responses, Clock clock) {
        this.database = database;
        this.responses = responses;
        this.clock = clock;
    }

    /** One stored record. */
    public record AuditEvent(Instant at, String actor, String scope, String method, String path, String target,
                             int status, String detail) {
    }

    /**
     * Called once per authenticated request (IngressGuard.authenticateRest): an audited call gets its record written
     * when the route that received it is done, with the answer it is about to send.
     */
    public void follow(Exchange exchange, RestCall call) {
        if (!call.audited()) {
            return;
        }
        String routeId = exchange.getFromRouteId();
        exchange.getUnitOfWork().addSynchronization(new SynchronizationAdapter() {
            @Override
            public SynchronizationRouteAware getRouteSynchronization() {
                return new SynchronizationRouteAware() {
                    @Override
                    public void onBeforeRoute(Route route, Exchange e) {
                    }

                    @Override
                    public void onAfterRoute(Route route, Exchange e) {
                        if (route.getRouteId().equals(routeId)) {
                            record(e, call);
                        }
                    }
                };
            }
        });
    }

    private void record(Exchange exchange, RestCall call) {
        AuditEvent event;
        try {
            Integer code = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
            int status = exchange.isFailed() ? 500 : code == null ? 200 : code;
            String target = exchange.getProperty(MasNames.PROPERTY_AUDIT_TARGET, String.class);
            event = new AuditEvent(clock.instant(), exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class),
                    call.scope(), call.method(), call.path(), target != null ? target : call.pathTarget(), status,
                    status >= 400 ? errorOf(exchange) : null);
        } catch (RuntimeException e) {
            LOG.error("Audit record of {} {} by {} not written: {}", call.method(), call.path(),
                    exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME), e.toString());
            return;
        }
        try {
            store(event);
            LOG.info("Audit: {} ({}) {} {} -> {}", org.mas.broker.LogSafe.printable(event.actor(), 256), event.scope(),
                    event.method(), org.mas.broker.LogSafe.printable(event.path(), 2000), event.status());
        } catch (SQLException | RuntimeException e) {
            LOG.error("Audit record not stored ({}), here it is instead: {}", e.getMessage(),
                    org.mas.broker.LogSafe.printable(String.valueOf(event), 8000));
        }
    }

    /** The answer's error and its details, from the JSON error body (never a body that succeeded: it may hold secrets). */
    private static String errorOf(Exchange exchange) {
        String body = exchange.getMessage().getBody(String.class);
        try {
            JsonNode error = body == null ? null : MAPPER.readTree(body);
            if (error != null && error.path("error").isTextual()) {
                List<String> parts = new ArrayList<>();
                error.path("details").forEach(detail -> parts.add(detail.asText()));
                return error.get("error").asText() + (parts.isEmpty() ? "" : ": " + String.join("; ", parts));
            }
        } catch (Exception e) {
            // not a JSON error: the status says enough
        }
        return null;
    }

    void store(AuditEvent event) throws SQLException {
        try (Connection c = database.getConnection();
             PreparedStatement insert = c.prepareStatement("INSERT INTO audit_events (at, actor, scope, method, path, "
                     + "target, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            insert.setTimestamp(1, Timestamp.from(event.at()));
            insert.setString(2, cut(event.actor(), 256));
            insert.setString(3, event.scope());
            insert.setString(4, cut(event.method(), 16));
            insert.setString(5, cut(event.path(), 2000));
            insert.setString(6, cut(event.target(), 300));
            insert.setInt(7, event.status());
            insert.setString(8, cut(event.detail(), 2000));
            insert.executeUpdate();
        }
    }

    /** GET /api/audit?since=&actor=&limit=100: newest first; since is ISO-8601, limit at most 500. */
    public void list(Exchange exchange) throws SQLException {
        org.apache.camel.Message in = exchange.getIn();
        List<String> problems = new ArrayList<>();
        Instant since = null;
        String sinceText = in.getHeader("since", String.class);
        if (sinceText != null) {
            try {
                since = OffsetDateTime.parse(sinceText).toInstant();
            } catch (DateTimeParseException e) {
                problems.add("since: an ISO-8601 time with offset, e.g. 2025-01-31T12:00:00Z");
            }
        }
        String actor = in.getHeader("actor", String.class);
        if (actor != null && (actor.length() > 256 || actor.chars().anyMatch(Character::isISOControl))) {
            problems.add("actor: an API key's name or an agent id (at most 256 characters, no control characters)");
        }
        int limit = 100;
        String limitText = in.getHeader("limit", String.class);
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                problems.add("limit: a whole number between 1 and " + MAX_LIMIT);
            }
        }
        if (!problems.isEmpty()) {
            RestResponses.error(exchange, 400, "invalid query", problems);
            return;
        }
        StringBuilder sql = new StringBuilder("SELECT at, actor, scope, method, path, target, status, detail FROM audit_events WHERE 1 = 1");
        if (since != null) {
            sql.append(" AND at >= ?");
        }
        if (actor != null) {
            sql.append(" AND actor = ?");
        }
        sql.append(" ORDER BY at DESC, seq DESC FETCH FIRST ? ROWS ONLY");
        List<Map<String, Object>> events = new ArrayList<>();
        try (Connection c = database.getConnection(); PreparedStatement query = c.prepareStatement(sql.toString())) {
            int i = 1;
            if (since != null) {
                query.setTimestamp(i++, Timestamp.from(since));
            }
            if (actor != null) {
                query.setString(i++, actor);
            }
            query.setInt(i, limit);
            try (ResultSet r = query.executeQuery()) {
                while (r.next()) {
                    Map<String, Object> event = new LinkedHashMap<>();
                    event.put("at", r.getTimestamp(1).toInstant().toString());
                    event.put("actor", r.getString(2));
                    event.put("scope", r.getString(3));
                    event.put("method", r.getString(4));
                    event.put("path", r.getString(5));
                    event.put("target", r.getString(6));
                    event.put("status", r.getInt(7));
                    event.put("detail", r.getString(8));
                    events.add(event);
                }
            }
        }
        responses.json(exchange, 200, Map.of("events", events));
    }

    /** At most max characters, NUL as U+FFFD (PostgreSQL stores no NUL in text): a record is never refused for it. */
    private static String cut(String value, int max) {
        if (value == null) {
            return null;
        }
        String stored = value.replace('\u0000', '\uFFFD');
        return stored.length() <= max ? stored : stored.substring(0, max);
    }
}
