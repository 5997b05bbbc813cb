package org.mas.broker.ingress;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import jakarta.jms.BytesMessage;
import jakarta.jms.JMSException;
import jakarta.jms.TextMessage;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.config.BrokerSettings;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.EnvelopeProcessor;
import org.mas.broker.envelope.InvalidEnvelopeException;
import org.mas.broker.identity.AuthenticatedSender;
import org.mas.broker.queues.CaseInsensitiveHeaderFilterStrategy;
import org.mas.broker.queues.JmsConnections;
import org.mas.broker.rest.AuditTrail;
import org.mas.broker.rest.RequestRejectedException;
import org.mas.broker.rest.RestCall;
import org.mas.broker.rest.RestScopes;

/**
 * What every ingress does before the shared pipeline: drop what the sender put in headers (so nothing untrusted
 * steers routing), turn the protocol's body into bytes or text within the size limit, authenticate REST callers, and
 * tag the exchange with its ingress. Bean name {@code ingress}.
 */
public class IngressGuard {

    public static final String API_KEY_HEADER = "X-API-Key";

    private static final Logger LOG = LoggerFactory.getLogger(IngressGuard.class);
    private static final Set<String> REST_HEADERS_KEPT = Set.of(API_KEY_HEADER.toLowerCase(Locale.ROOT), "content-type");

    private final EnvelopeProcessor envelopes;
    private final Map<String, byte[]> apiKeyDigests;
    private final Map<String, BrokerSettings.ApiKey> apiKeysByName = new java.util.HashMap<>();
    private final RestScopes scopes;
    private final AuditTrail audit;
    private final Runnable authFailed;
    private final boolean trustUnauthenticated;

    /**
     * @param authFailed           told of each REST call refused for a missing or wrong API key
     * @param trustUnauthenticated security.allow_anonymous: a JMS message the broker did not authenticate may name any
     *                             from_agent
     */
    public IngressGuard(EnvelopeProcessor envelopes, List<BrokerSettings.ApiKey> apiKeys, RestScopes scopes, AuditTrail audit,
                        Runnable authFailed, boolean trustUnauthenticated) {
        this.trustUnauthenticated = trustUnauthenticated;
        this.envelopes = envelopes;
        this.scopes = scopes;
        this.audit = audit;
        this.authFailed = authFailed;
        this.apiKeyDigests = new java.util.LinkedHashMap<>();
        for (BrokerSettings.ApiKey key : apiKeys) {
            apiKeyDigests.put(key.name(), sha256(key.key()));
            apiKeysByName.put(key.name(), key);
        }
    }

    /**
     * JMS ingress. Only TextMessage and BytesMessage are read; any other type (ObjectMessage above all, whose body
     * Camel 4.18.0 might deserialize: CVE-2026-43866) is rejected without touching its body. The size limit applies
     * before a body is read; an oversized one goes to mas.invalid without it.
     */
    public void fromJms(Exchange exchange) throws InvalidEnvelopeException, JMSException {
        Message in = exchange.getIn();
        jakarta.jms.Message jms = in.getBody(jakarta.jms.Message.class);
        // Set first: a refusal below goes to mas.invalid through it. A first delivery is forwarded inside the consuming
        // transaction. A redelivery (after a rollback or a crash) is forwarded outside it, with duplicate ids: Artemis
        // drops what the earlier attempt already queued, whereas a duplicate inside a transaction would roll the whole
        // transaction back, again and again.
        exchange.setProperty(MasNames.PROPERTY_SENDER, jms.getJMSRedelivered() ? JmsConnections.NON_TRANSACTED_COMPONENT : JmsConnections.TRANSACTED_COMPONENT);
        exchange.setProperty(MasNames.PROPERTY_ORIGINAL_PROPERTIES, senderProperties(jms));
        AuthenticatedSender.Sender sender = AuthenticatedSender.of(jms);
        boolean unauthenticated = !sender.unchecked(trustUnauthenticated) && sender.agent() == null;
        if (sender.kind() == AuthenticatedSender.Kind.AGENT) {
            exchange.setProperty(MasNames.PROPERTY_AUTHENTICATED_AGENT, sender.agent()); // from_agent must be this (senders)
        }
        in.removeHeaders("*");
        in.setHeader(MasNames.HEADER_INGRESS, MasNames.INGRESS_JMS);
        String inboundId = inboundId(jms);
        exchange.setProperty(MasNames.PROPERTY_INBOUND_MESSAGE_ID, inboundId);
        exchange.setProperty(MasNames.PROPERTY_DEFAULT_ID, inboundId == null ? null : derivedId("jms:" + inboundId));
        // camel-jms does not flag the exchange of a locally transacted consumer; whatever waits for the commit needs it
        exchange.getExchangeExtension().setTransacted(true);
        if (jms instanceof TextMessage text) {
            // sized from the encoded body, so an oversized text is never copied into a String (nor parsed); the
            // Artemis client has already decoded it at receive, which only the broker's own limit bounds
            long chars = JmsBodies.textLength(text);
            if (chars > envelopes.getMaxMessageSize()) {
                in.setBody("");
                throw new InvalidEnvelopeException("message too large: " + chars + " characters (at least as many bytes),"
                        + " the limit is " + envelopes.getMaxMessageSize() + " bytes");
            }
            String body = text.getText();
            in.setBody(body == null ? "" : body);
        } else if (jms instanceof BytesMessage bytes) {
            long length = bytes.getBodyLength();
            if (length > envelopes.getMaxMessageSize()) {
                in.setBody("");
                envelopes.checkSize(length);
            }
            byte[] body = new byte[(int) length];
            bytes.readBytes(body);
            in.setBody(body);
        } else {
            String type = jms.getClass().getSimpleName().replace("ActiveMQ", "");
            in.setBody("");
            throw new InvalidEnvelopeException("unsupported JMS message type " + type
                    + ": only TextMessage or BytesMessage carrying a JSON envelope is accepted");
        }
        if (unauthenticated) { // refused with its body, which mas.invalid keeps
            throw new InvalidEnvelopeException("the broker did not authenticate the sender of this message (security "
                    + "off on an external broker, or DurableIngressPlugin missing there): refused while "
                    + "security.allow_anonymous is false");
        }
    }

    /**
     * What identifies the inbound message, the same on each redelivery (also after a restart): its JMS message id, or,
     * for senders that give none (STOMP, MQTT and some AMQP clients), the id the broker stored it under. Null only if
     * neither is known; the envelope then gets a random id.
     */
    static String inboundId(jakarta.jms.Message jms) throws JMSException {
        String id = jms.getJMSMessageID();
        if (id != null) {
            return id;
        }
        if (jms instanceof org.apache.activemq.artemis.jms.client.ActiveMQMessage artemis && artemis.getCoreMessage() != null) {
            return "broker:" + artemis.getCoreMessage().getMessageID();
        }
        return null;
    }

    /**
     * The sender's application properties, read from the JMS message itself (never through Camel's header mapping):
     * none of JMS's, Camel's (in any case), Artemis's or the broker's own (mas_*).
     */
    private static Map<String, Object> senderProperties(jakarta.jms.Message jms) throws JMSException {
        Map<String, Object> kept = new java.util.LinkedHashMap<>();
        for (java.util.Enumeration<?> names = jms.getPropertyNames(); names.hasMoreElements(); ) {
            String name = String.valueOf(names.nextElement());
            String lower = name.toLowerCase(Locale.ROOT);
            if (!lower.startsWith("jms") && !lower.startsWith("mas_") && !lower.startsWith("_amq")
                    && !CaseInsensitiveHeaderFilterStrategy.isCamelHeader(name)) {
                kept.put(name, jms.getObjectProperty(name));
            }
        }
        return kept;
    }

    /**
     * REST ingress: 415 unless JSON, 413 over the size limit. The key has been checked before, by
     * {@link #authenticateRest} in the REST route configuration (mas-rest); it is not checked a second time.
     */
    public void fromRest(Exchange exchange) throws RequestRejectedException {
        authenticateRest(exchange); // nothing to do after mas-rest's; a caller outside it is not let through
        Message in = exchange.getIn();
        String contentType = in.getHeader(Exchange.CONTENT_TYPE, String.class);
        in.getHeaders().keySet().removeIf(name -> !REST_HEADERS_KEPT.contains(name.toLowerCase(Locale.ROOT)));
        in.setHeader(MasNames.HEADER_INGRESS, MasNames.INGRESS_REST);
        exchange.setProperty(MasNames.PROPERTY_SENDER, JmsConnections.TRANSACTED_COMPONENT);
        if (!isJson(contentType)) {
            throw new RequestRejectedException(415, "unsupported content type",
                    List.of("Content-Type must be application/json, got " + (contentType == null ? "none" : "'" + contentType + "'")));
        }
        byte[] body = in.getBody(byte[].class);
        if (body != null && body.length > envelopes.getMaxMessageSize()) {
            throw new RequestRejectedException(413, "message too large",
                    List.of(body.length + " bytes, the limit is " + envelopes.getMaxMessageSize()));
        }
        in.setBody(body);
        in.removeHeader(Exchange.CONTENT_TYPE); // not a property of the queued message
    }

    /**
     * The HTTP server turns the fields of a form body into headers too, and a browser posts a form to any site without
     * asking (no CORS preflight): a key in a form field would pass for the header. No REST call takes a form: 415 before
     * the key is looked at.
     */
    private static void refuseForms(Message in) throws RequestRejectedException {
        String contentType = in.getHeader(Exchange.CONTENT_TYPE, String.class);
        if (org.mas.broker.rest.JsonBodies.isForm(contentType)) {
            throw new RequestRejectedException(415, "unsupported content type",
                    List.of("Content-Type must be application/json, got '" + contentType + "' (forms are not accepted)"));
        }
    }

    /**
     * The HTTP server turns query parameters into headers: a key or content type given in the query string would
     * pass for the header. They are refused (a key in a URL ends up in logs).
     */
    private static void refuseQueryCredentials(Message in) throws RequestRejectedException {
        String query = in.getHeader(Exchange.HTTP_QUERY, String.class);
        if (query == null || query.isEmpty()) {
            return;
        }
        for (String parameter : query.split("&")) {
            String name = java.net.URLDecoder.decode(parameter.split("=", 2)[0], StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
            if (REST_HEADERS_KEPT.contains(name)) {
                throw new RequestRejectedException(400, "header given as a query parameter",
                        List.of("send " + name + " as an HTTP header, not in the query string"));
            }
        }
    }

    /**
     * Every REST call (mas-rest): 400 for a key or content type in the query string, 401 without a valid key, 403 for
     * a key without the scope the verb declares, 415 for a body that is not JSON, 413 for one over max_message_size.
     * An operate or admin call is audited from here on, whatever its outcome. A key bound to agents passes them on
     * (PROPERTY_API_KEY_AGENTS): the sender check and REST acknowledgments hold the caller to them.
     */
    public void authenticateRest(Exchange exchange) throws RequestRejectedException {
        if (exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME) != null) {
            return; // once per request: the key header is gone by now
        }
        Message in = exchange.getIn();
        refuseQueryCredentials(in);
        refuseForms(in);
        exchange.setProperty(MasNames.PROPERTY_API_KEY_NAME, authenticate(in.getHeader(API_KEY_HEADER, String.class)));
        in.removeHeader(API_KEY_HEADER);
        authorize(exchange, apiKeysByName.get(exchange.getProperty(MasNames.PROPERTY_API_KEY_NAME, String.class)));
        // every REST body (an envelope, an acknowledgment, a queue to create, an edited dead letter) is JSON, and no
        // larger than a message may be
        byte[] body = in.getBody(byte[].class);
        if (body != null && body.length > 0) {
            String contentType = in.getHeader(Exchange.CONTENT_TYPE, String.class);
            if (!isJson(contentType)) {
                throw new RequestRejectedException(415, "unsupported content type",
                        List.of("Content-Type must be application/json, got " + (contentType == null ? "none" : "'" + contentType + "'")));
            }
            if (body.length > envelopes.getMaxMessageSize()) {
                throw new RequestRejectedException(413, "request too large",
                        List.of(body.length + " bytes, the limit is " + envelopes.getMaxMessageSize()));
            }
            in.setBody(body);
        }
    }

    /** 403 unless the key has the scope of the verb that received the call; a route that is no verb's gets none. */
    private void authorize(Exchange exchange, BrokerSettings.ApiKey key) throws RequestRejectedException {
        if (key.agents() != null) {
            exchange.setProperty(MasNames.PROPERTY_API_KEY_AGENTS, key.agents());
        }
        java.util.Optional<RestCall> call = scopes.call(exchange);
        if (call.isEmpty()) {
            throw new RequestRejectedException(403, "forbidden", List.of("no scope is declared for "
                    + exchange.getIn().getHeader(Exchange.HTTP_METHOD, String.class) + " " + exchange.getIn().getHeader(Exchange.HTTP_PATH, String.class)));
        }
        audit.follow(exchange, call.get());
        if (!key.hasScope(call.get().scope())) {
            throw new RequestRejectedException(403, "forbidden", List.of("API key '" + key.name() + "' lacks the scope '"
                    + call.get().scope() + "' for " + call.get().method() + " " + call.get().path()));
        }
    }

    /** File ingress: files carry no headers of their own; the file's size is checked before it is read. */
    public void fromFile(Exchange exchange) throws InvalidEnvelopeException {
        Message in = exchange.getIn();
        in.getHeaders().keySet().removeIf(name -> !name.startsWith("CamelFile"));
        in.setHeader(MasNames.HEADER_INGRESS, MasNames.INGRESS_FILE);
        exchange.setProperty(MasNames.PROPERTY_SENDER, JmsConnections.TRANSACTED_COMPONENT);
        exchange.setProperty(MasNames.PROPERTY_FILE_OUTCOME, ".done");
        exchange.setProperty(MasNames.PROPERTY_DEFAULT_ID, derivedId("file:" + in.getHeader(Exchange.FILE_PATH, String.class)
                + ":" + in.getHeader(Exchange.FILE_LAST_MODIFIED, Long.class) + ":" + in.getHeader(Exchange.FILE_LENGTH, Long.class)));
        Long length = in.getHeader(Exchange.FILE_LENGTH, Long.class);
        if (length != null) {
            envelopes.checkSize(length);
        }
    }

    /** A UUID that is always the same for the same input. */
    static String derivedId(String source) {
        return java.util.UUID.nameUUIDFromBytes(source.getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** @return the name of the matching key; every configured key is compared, in constant time. */
    private String authenticate(String presented) throws RequestRejectedException {
        if (presented == null || presented.isEmpty()) {
            authFailed.run();
            throw new RequestRejectedException(401, "missing API key", List.of("send the key in the " + API_KEY_HEADER + " header"));
        }
        byte[] digest = sha256(presented);
        String match = null;
        for (Map.Entry<String, byte[]> entry : apiKeyDigests.entrySet()) {
            if (MessageDigest.isEqual(digest, entry.getValue()) && match == null) {
                match = entry.getKey();
            }
        }
        if (match == null) {
            authFailed.run();
            LOG.debug("REST request refused: unknown API key");
            throw new RequestRejectedException(401, "invalid API key");
        }
        return match;
    }

    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        return mediaType.equals("application/json") || (mediaType.startsWith("application/") && mediaType.endsWith("+json"));
    }

    private static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
