package org.mas.broker.rest;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The one reader of the JSON that callers send besides envelopes (acknowledgments, agent registrations, queue
 * requests): duplicate keys refused (which of two "id"s counts is not a question the broker answers), nesting bounded.
 * Envelopes have their own, EnvelopeProcessor, with the same rules and the schema.
 */
public final class JsonBodies {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    private JsonBodies() {
    }

    /**
     * True for a form body (URL-encoded or multipart): the HTTP server turns its fields into headers, so no REST call
     * takes one.
     */
    public static boolean isForm(String contentType) {
        String media = contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
        return media.equals("application/x-www-form-urlencoded") || media.startsWith("multipart/");
    }

    public static JsonNode read(String json) throws JsonProcessingException {
        return MAPPER.readTree(json == null ? "" : json);
    }

    /**
     * A REST request's body as JSON; or null once the caller is answered 400 "not valid JSON" with what the parser
     * found (e.g. {@code Duplicate field 'id'}), without the text it was given.
     */
    public static JsonNode readRequest(org.apache.camel.Exchange exchange) {
        try {
            return read(exchange.getIn().getBody(String.class));
        } catch (JsonProcessingException e) {
            RestResponses.error(exchange, 400, "not valid JSON", java.util.List.of(String.valueOf(e.getOriginalMessage())
                    .lines().findFirst().orElse("")));
            return null;
        }
    }
}
