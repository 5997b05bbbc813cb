package org.mas.broker.identity;

import java.time.Instant;
import java.util.List;

/**
 * One agent of the registry. {@code secretHash} is the bcrypt hash of its secret (null: it cannot connect); it never
 * leaves the registry and the broker's security manager. {@code version} is its row's version (1 when first written,
 * one more at every change): writes are conditional on it.
 */
public record RegisteredAgent(String id, String secretHash, List<String> capabilities, List<String> roles, String endpoint,
                              boolean enabled, String origin, Instant createdAt, Instant updatedAt, long version) {

    public static final String ORIGIN_CONFIG = "config";
    public static final String ORIGIN_API = "api";

    public RegisteredAgent {
        capabilities = List.copyOf(capabilities);
        roles = List.copyOf(roles);
    }

    public boolean hasRole(String role) {
        return roles.contains(role);
    }

    public boolean fromConfig() {
        return ORIGIN_CONFIG.equals(origin);
    }

    RegisteredAgent with(String newHash, boolean nowEnabled, Instant at) {
        return new RegisteredAgent(id, newHash, capabilities, roles, endpoint, nowEnabled, origin, createdAt, at, version + 1);
    }

    @Override
    public String toString() {
        return "RegisteredAgent[" + id + ", capabilities=" + capabilities + ", roles=" + roles
                + (endpoint == null ? "" : ", " + endpoint) + (enabled ? "" : ", disabled") + ", " + origin + "]";
    }
}
