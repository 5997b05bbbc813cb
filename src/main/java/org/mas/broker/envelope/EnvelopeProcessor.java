package org.mas.broker.envelope;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.PathType;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import org.mas.broker.MasNames;

/**
 * The shared accept step of every ingress: size limit, one JSON parse, JSON Schema validation, normalization, and the
 * message properties the contract puts on what the broker queues. Bean name {@code envelopes}.
 */
public class EnvelopeProcessor {

    /** Classpath location of the envelope's JSON Schema, also served at GET /api/schema/envelope. */
    public static final String SCHEMA_RESOURCE = "/schema/envelope.schema.json";

    static final Map<String, Integer> PRIORITY_WORDS = Map.of(
            "low", 3, "normal", 5, "medium", 5, "high", 8, "critical", 10);
    static final int DEFAULT_PRIORITY = 5;
    static final long DEFAULT_TTL_SECONDS = 300;

    // decimals as BigDecimal: what a payload holds is forwarded exactly, never rounded to a double
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final List<String> LEADING_FIELDS = List.of("id", "from_agent", "to_agent", "to_agents",
            "to_capability", "message_type", "payload", "priority", "requires_ack", "timestamp", "correlation_id", "ttl");

    private final Schema schema;
    private final long maxMessageSize;

    public EnvelopeProcessor(long maxMessageSize) {
        this.maxMessageSize = maxMessageSize;
        try (InputStream in = EnvelopeProcessor.class.getResourceAsStream(SCHEMA_RESOURCE)) {
            SchemaRegistryConfig config = SchemaRegistryConfig.builder().pathType(PathType.JSON_PATH).build();
            this.schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
                    builder -> builder.schemaRegistryConfig(config)).getSchema(in);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + SCHEMA_RESOURCE, e);
        }
    }

    /** Turns the exchange's body into a normalized envelope, or throws with every reason it is not one. */
    public void accept(Exchange exchange) throws InvalidEnvelopeException {
        Message in = exchange.getIn();
        byte[] bytes = in.getBody(byte[].class);
        if (bytes == null || bytes.length == 0) {
            throw new InvalidEnvelopeException("empty message: expected a JSON envelope");
        }
        checkSize(bytes.length);
        Envelope envelope;
        try {
            ObjectNode parsed = parse(bytes);
            String defaultId = exchange.getProperty(MasNames.PROPERTY_DEFAULT_ID, String.class);
            envelope = normalize(parsed, defaultId);
            if (defaultId == null && !parsed.hasNonNull("id")) {
                exchange.setProperty(MasNames.PROPERTY_FRESH_ID, true); // a random id, given here
            }
        } catch (NotUnicode e) {
            throw new InvalidEnvelopeException("envelope does not match the schema", List.of("$: " + e.getMessage()));
        }
        exchange.setProperty(MasNames.PROPERTY_ENVELOPE, envelope);
        in.setBody(envelope.toJson());
        in.getHeaders().putAll(CopyProperties.of(envelope.getId(), envelope.getFromAgent(), envelope.getMessageType(),
                envelope.isRequiresAck(), envelope.getCorrelationId(), in.getHeader(MasNames.HEADER_INGRESS, String.class),
                envelope.getPriority(), envelope.getTtl() == 0 ? 0L : System.currentTimeMillis() + envelope.getTtl() * 1000));
    }

    /** A queued (normalized) envelope read back from the body, as the exchange property {@code envelope}. */
    public void reload(Exchange exchange) throws InvalidEnvelopeException {
        String body = exchange.getIn().getBody(String.class);
        if (body == null || body.isEmpty()) {
            throw new InvalidEnvelopeException("empty message: expected a JSON envelope");
        }
        try {
            exchange.setProperty(MasNames.PROPERTY_ENVELOPE, normalize(parse(body.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
        } catch (NotUnicode e) {
            throw new InvalidEnvelopeException("envelope does not match the schema", List.of("$: " + e.getMessage()));
        }
    }

    /** Enforced before any parsing; every ingress also checks what it can before reading the body. */
    public void checkSize(long size) throws InvalidEnvelopeException {
        if (size > maxMessageSize) {
            throw new InvalidEnvelopeException("message too large: " + size + " bytes, the limit is " + maxMessageSize);
        }
    }

    public long getMaxMessageSize() {
        return maxMessageSize;
    }

    /** The schema as served to clients. */
    public String schemaJson() throws IOException {
        try (InputStream in = EnvelopeProcessor.class.getResourceAsStream(SCHEMA_RESOURCE)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    ObjectNode parse(byte[] bytes) throws InvalidEnvelopeException {
        JsonNode node;
        try {
            node = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
            throw new InvalidEnvelopeException("not valid JSON", List.of(e.getOriginalMessage() + where));
        } catch (IOException e) {
            throw new InvalidEnvelopeException("not valid JSON", List.of(String.valueOf(e.getMessage())));
        }
        if (!(node instanceof ObjectNode object)) {
            throw new InvalidEnvelopeException("not a JSON object: the envelope must be a JSON object");
        }
        List<String> details = describe(object, schema.validate(object));
        JsonNode timestamp = object.get("timestamp");
        boolean timestampReported = details.stream().anyMatch(d -> d.startsWith("$.timestamp"));
        if (!timestampReported && timestamp != null && timestamp.isTextual() && parseTimestamp(timestamp.asText()) == null) {
            details.add("$.timestamp: '" + timestamp.asText() + "' is not a valid ISO-8601 date-time");
        }
        if (!details.isEmpty()) {
            throw new InvalidEnvelopeException("envelope does not match the schema", details);
        }
        return object;
    }

    private static final List<String> ADDRESS_FIELDS = List.of("to_agent", "to_agents", "to_capability");

    private static List<String> describe(ObjectNode envelope, List<Error> errors) { // a mutable list
        List<String> details = new ArrayList<>();
        boolean recipientsReported = false;
        for (Error error : errors) {
            // the envelope-level oneOf (to_agent, to_agents or to_capability) reports itself and its branches: one
            // clear line instead
            boolean aboutRecipients = error.getInstanceLocation().getNameCount() == 0
                    && error.getEvaluationPath().getNameCount() > 0 && "oneOf".equals(error.getEvaluationPath().getName(0));
            if (aboutRecipients) {
                if (!recipientsReported) {
                    List<String> present = ADDRESS_FIELDS.stream().filter(envelope::has).toList();
                    details.add("$: exactly one of to_agent, to_agents or to_capability is required"
                            + (present.size() > 1 ? " (" + String.join(" and ", present) + " are present)" : ""));
                    recipientsReported = true;
                }
            } else if (isCapabilityAsAgent(error)) {
                details.add(error.getInstanceLocation() + ": '" + error.getInstanceNode().asText() + "' is not an agent "
                        + "id that can be addressed: ids starting with '" + MasNames.CAPABILITY_RECIPIENT_PREFIX
                        + "' name capabilities; address a capability with to_capability");
            } else {
                details.add(error.toString());
            }
        }
        return details;
    }

    /** The schema's recipientAgentId refuses "capability:..." as an agent to address (it names a capability). */
    private static boolean isCapabilityAsAgent(Error error) {
        return "not".equals(error.getKeyword()) && error.getInstanceNode() != null && error.getInstanceNode().isTextual()
                && error.getInstanceNode().asText().startsWith(MasNames.CAPABILITY_RECIPIENT_PREFIX);
    }

    Envelope normalize(ObjectNode in) {
        return normalize(in, null);
    }

    /** @param defaultId the id for an envelope without one (derived from its carrier), or null for a random UUID */
    Envelope normalize(ObjectNode in, String defaultId) {
        ObjectNode out = MAPPER.createObjectNode();
        out.put("id", in.hasNonNull("id") ? in.get("id").asText() : defaultId != null ? defaultId : UUID.randomUUID().toString());
        out.set("from_agent", in.get("from_agent"));
        for (String address : ADDRESS_FIELDS) { // exactly one is present
            if (in.has(address)) {
                out.set(address, in.get(address));
            }
        }
        out.set("message_type", in.get("message_type"));
        out.set("payload", in.get("payload"));
        out.put("priority", priority(in.get("priority")));
        out.put("requires_ack", in.has("requires_ack") && in.get("requires_ack").asBoolean());
        out.put("timestamp", timestamp(in.get("timestamp")));
        out.set("correlation_id", in.has("correlation_id") ? in.get("correlation_id") : MAPPER.nullNode());
        out.put("ttl", in.has("ttl") ? in.get("ttl").asLong() : DEFAULT_TTL_SECONDS);
        for (Iterator<Map.Entry<String, JsonNode>> it = in.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!LEADING_FIELDS.contains(field.getKey())) {
                out.set(field.getKey(), field.getValue());
            }
        }
        try {
            return new Envelope(out, MAPPER.writeValueAsString(out), fingerprint(in));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize a parsed envelope", e);
        }
    }

    /** 128 bits of SHA-256 over a canonical form: object fields sorted by name, numbers by value, lengths prefixed. */
    static String fingerprint(JsonNode envelope) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
        digest(envelope, digest);
        return java.util.HexFormat.of().formatHex(digest.digest(), 0, 16);
    }

    private static void digest(JsonNode node, MessageDigest digest) {
        switch (node.getNodeType()) {
            case OBJECT -> {
                digest.update((byte) '{');
                List<String> names = new ArrayList<>();
                node.fieldNames().forEachRemaining(names::add);
                java.util.Collections.sort(names);
                for (String name : names) {
                    text(name, digest);
                    digest(node.get(name), digest);
                }
                digest.update((byte) '}');
            }
            case ARRAY -> {
                digest.update((byte) '[');
                node.forEach(element -> digest(element, digest));
                digest.update((byte) ']');
            }
            case STRING -> {
                digest.update((byte) 's');
                text(node.textValue(), digest);
            }
            case NUMBER -> { // 5, 5.0 and 5e0 are one number
                digest.update((byte) 'n');
                text(node.decimalValue().stripTrailingZeros().toString(), digest);
            }
            case BOOLEAN -> digest.update((byte) (node.booleanValue() ? 't' : 'f'));
            default -> digest.update((byte) 'z'); // null
        }
    }

    private static void text(String text, MessageDigest digest) {
        requireValidUnicode(text);
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        digest.update(java.nio.ByteBuffer.allocate(4).putInt(bytes.length).array());
        digest.update(bytes);
    }

    /** A lone UTF-16 surrogate (from a JSON escape, or bytes that are not UTF-8) cannot be forwarded as text. */
    private static void requireValidUnicode(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new NotUnicode("a string holds a lone UTF-16 surrogate (\\u" + Integer.toHexString(c)
                        + ") at character " + i + ": not valid Unicode");
            }
        }
    }

    /** Thrown from the walk over the envelope; turned into an InvalidEnvelopeException by the callers. */
    private static final class NotUnicode extends RuntimeException {
        NotUnicode(String message) {
            super(message, null, false, false);
        }
    }

    private static int priority(JsonNode value) {
        if (value == null) {
            return DEFAULT_PRIORITY;
        }
        // the schema's "integer" also admits 5.0
        return value.isNumber() ? value.asInt() : PRIORITY_WORDS.get(value.asText());
    }

    private static String timestamp(JsonNode value) {
        return value == null ? Instant.now().toString() : parseTimestamp(value.asText()).toString();
    }

    /** @return the instant, a time without offset read as UTC; null if the text is no valid date-time */
    private static Instant parseTimestamp(String text) {
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException withoutOffset) {
            try {
                return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e) {
                return null;
            }
        }
    }
}
