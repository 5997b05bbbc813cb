package org.mas.broker.queues;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

import javax.security.auth.Subject;

import org.apache.activemq.artemis.core.security.CheckType;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager5;
import org.apache.activemq.artemis.spi.core.security.jaas.NoCacheLoginException;
import org.apache.activemq.artemis.spi.core.security.jaas.RolePrincipal;
import org.apache.activemq.artemis.spi.core.security.jaas.UserPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.RateLimitedLog;
import org.mas.broker.identity.AgentRegistry;
import org.mas.broker.identity.RegisteredAgent;

/**
 * The broker's security manager, embedded or standalone ({@link RegistrySecurityManager}): every connection, on every
 * protocol, authenticates as an agent of the {@link AgentRegistry} (user name = agent id, password = its secret), as
 * the router ({@link MasNames#ROUTER_USER}, as {@link RouterLogin} allows), or, with {@code security.allow_anonymous},
 * without credentials. The subject carries the roles that {@link BrokerSecurity}'s security settings grant
 * permissions to; {@link #authorize} only matches them.
 * A failed authentication is counted (the callback) and logged, rate-limited, without the password; it is never cached
 * by Artemis, so each one is counted and a secret that becomes valid works at once.
 */
public class AgentSecurityManager implements ActiveMQSecurityManager5 {

    /** Whether a login as the router's own user holds. */
    @FunctionalInterface
    public interface RouterLogin {

        boolean accepts(String password, RemotingConnection connection);

        /** The embedded broker: in-VM only, with the password this process made. */
        static RouterLogin inVmOnly(String password) {
            byte[] expected = password.getBytes(StandardCharsets.UTF_8);
            return (given, connection) -> BrokerSecurity.isInVm(connection) && given != null
                    && MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8));
        }

        /** A standalone broker: over any transport, with the password whose bcrypt hash its configuration holds. */
        static RouterLogin bcrypt(String hash) {
            return (given, connection) -> org.mas.broker.identity.Secrets.matches(given, hash);
        }

        /** A standalone broker: over any transport, with the password its configuration holds (an environment variable). */
        static RouterLogin password(String password) {
            byte[] expected = password.getBytes(StandardCharsets.UTF_8);
            return (given, connection) -> given != null && MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(AgentSecurityManager.class);

    private final AgentRegistry registry;
    private final boolean allowAnonymous;
    private final RouterLogin routerLogin;
    private final Consumer<String> authFailed;
    private final RateLimitedLog failures = new RateLimitedLog(LOG,
            "{} more authentications failed in the last minute (not logged one by one)");

    /** @param authFailed told the protocol (core, amqp, stomp, mqtt, openwire) of each failed authentication */
    public AgentSecurityManager(AgentRegistry registry, boolean allowAnonymous, RouterLogin routerLogin, Consumer<String> authFailed) {
        this.registry = registry;
        this.allowAnonymous = allowAnonymous;
        this.routerLogin = routerLogin;
        this.authFailed = authFailed;
    }

    @Override
    public Subject authenticate(String user, String password, RemotingConnection connection, String securityDomain)
            throws NoCacheLoginException {
        if (user == null || user.isEmpty()) {
            if (allowAnonymous) {
                return subject(MasNames.ANONYMOUS_USER, Set.of(BrokerSecurity.ROLE_ANONYMOUS));
            }
            throw failed(connection, null, "anonymous connections are refused (security.allow_anonymous is false)");
        }
        if (MasNames.ROUTER_USER.equals(user)) {
            if (routerLogin.accepts(password, connection)) {
                return subject(user, Set.of(BrokerSecurity.ROLE_ROUTER));
            }
            throw failed(connection, user, "wrong password for the router's user (on the embedded broker: in-VM only)");
        }
        Optional<RegisteredAgent> agent = registry.authenticate(user, password);
        if (agent.isEmpty()) {
            throw failed(connection, user, "unknown or disabled agent, or wrong secret");
        }
        Subject subject = subject(user, BrokerSecurity.rolesOf(agent.get()));
        subject.getPrincipals().add(new AgentRecord(agent.get()));
        return subject;
    }

    /** The registry record an agent's login was checked against: its permissions end when that record is replaced. */
    record AgentRecord(RegisteredAgent agent) implements java.security.Principal {
        @Override
        public String getName() {
            return agent.id();
        }
    }

    @Override
    public boolean authorize(Subject subject, Set<Role> roles, CheckType checkType, String address) {
        if (subject == null || roles == null) {
            return false;
        }
        for (AgentRecord record : subject.getPrincipals(AgentRecord.class)) {
            if (!registry.isCurrent(record.agent())) {
                return false; // rotated or disabled since this login (a session Artemis still caches, a race with it)
            }
        }
        Set<String> held = new HashSet<>();
        for (RolePrincipal role : subject.getPrincipals(RolePrincipal.class)) {
            held.add(role.getName());
        }
        for (Role role : roles) {
            if (checkType.hasRole(role) && held.contains(role.getName())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean validateUser(String user, String password) {
        return false; // Artemis calls authenticate (ActiveMQSecurityManager5) instead
    }

    @Override
    public boolean validateUserAndRole(String user, String password, Set<Role> roles, CheckType checkType) {
        return false; // Artemis calls authorize (ActiveMQSecurityManager5) instead
    }

    private static Subject subject(String user, Set<String> roles) {
        Subject subject = new Subject();
        subject.getPrincipals().add(new UserPrincipal(user));
        for (String role : roles) {
            subject.getPrincipals().add(new RolePrincipal(role));
        }
        return subject;
    }

    private NoCacheLoginException failed(RemotingConnection connection, String user, String reason) {
        String protocol = connection == null || connection.getProtocolName() == null ? "other" : connection.getProtocolName();
        authFailed.accept(protocol);
        failures.warn("Authentication failed for {} over {} from {}: {}", user == null ? "an anonymous connection" : "'" + printable(user) + "'",
                protocol, connection == null ? "?" : connection.getRemoteAddress(), reason);
        return new NoCacheLoginException(reason);
    }

    /** A user name as the client sent it, made safe for one log line: control characters as '?', at most 100 chars. */
    static String printable(String user) {
        return org.mas.broker.LogSafe.printable(user, 100);
    }
}
