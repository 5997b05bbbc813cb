package org.mas.broker.rest;

import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.openapi.BeanConfig;
import org.apache.camel.openapi.OpenApiHelper;
import org.apache.camel.openapi.RestOpenApiReader;
import org.apache.camel.openapi.RestOpenApiSupport;

import org.mas.broker.envelope.EnvelopeProcessor;

/**
 * GET /api/openapi.json: the OpenAPI 3.1 document of every REST verb, read from the REST DSL by Camel's own reader
 * (camel-openapi-java: each verb's description, parameters, request body, responses and scope). Added here, once, what
 * the DSL cannot say per verb:
 * <ul>
 *   <li>the error shape {@code {"error": "...", "details": [...]}} ({@code #/components/schemas/Error}), the content
 *       of every 4xx and 5xx answer;</li>
 *   <li>what mas-rest answers for every verb (routes/rest-configuration.yaml): 400 for a key or content type in the
 *       query string, 401, 403, 503 with Retry-After; and 413/415 for verbs that take a body;</li>
 *   <li>the envelope: {@code #/components/schemas/Envelope} is the JSON Schema every envelope is validated against
 *       (schema/envelope.schema.json, also GET /api/schema/envelope), not what the Java class would say.</li>
 * </ul>
 * A JSON body that the DSL gives no type is documented as an object (its description says which). The REST model does
 * not change while the broker runs: the document is built once, on the first request.
 */
public class OpenApiDocument {

    public static final String ENVELOPE = "Envelope";
    public static final String ERROR = "Error";
    private static final String SCHEMAS = "#/components/schemas/";
    private static final String RESPONSES = "#/components/responses/";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The answers of mas-rest for every verb: status -> component name, description. */
    private static final Map<String, String[]> COMMON = Map.of(
            "400", new String[] {"BadRequest", "a key or content type given in the query string (send them as headers)"},
            "401", new String[] {"Unauthorized", "missing or wrong X-API-Key"},
            "403", new String[] {"Forbidden", "the API key lacks the scope this call needs"},
            "503", new String[] {"Unavailable", "the broker (or its ledger) cannot serve the request now: retry after Retry-After seconds"});
    /** ... and for verbs that take a body. */
    private static final Map<String, String[]> WITH_BODY = Map.of(
            "413", new String[] {"TooLarge", "the body is larger than max_message_size"},
            "415", new String[] {"UnsupportedMediaType", "the body is not application/json"});

    private volatile String document;

    public void document(Exchange exchange) throws Exception {
        String json = document;
        if (json == null) {
            json = build(exchange.getContext());
            document = json;
        }
        Message out = exchange.getMessage();
        out.removeHeaders("*");
        out.setBody(json);
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
    }

    /** The document as JSON text. */
    public static String build(CamelContext context) throws Exception {
        BeanConfig config = new BeanConfig();
        config.setVersion("3.1.0"); // the OpenAPI version whose schemas are JSON Schema 2020-12, the envelope schema's
        String version = OpenApiDocument.class.getPackage().getImplementationVersion();
        config.setInfo(new Info().title("MAS Message Broker").version(version == null ? "development" : version)
                .description("The broker's REST API. Every call needs the header X-API-Key with a key that has the "
                        + "call's scope (send, read, operate, admin); errors are {\"error\": \"...\", \"details\": [...]}."));
        OpenAPI openApi = new RestOpenApiReader().read(context, new RestOpenApiSupport().getRestDefinitions(context), config,
                context.getName(), context.getClassResolver());
        OpenApiHelper.clearVendorExtensions(openApi);
        ObjectNode doc = (ObjectNode) JSON.readTree(RestOpenApiSupport.getJsonFromOpenAPIAsString(openApi, config));
        complete(doc);
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc);
    }

    private static void complete(ObjectNode doc) throws IOException {
        ObjectNode components = doc.withObject("/components");
        ObjectNode schemas = components.withObject("/schemas");
        schemas.set(ENVELOPE, envelopeSchema());
        schemas.set(ERROR, JSON.readTree("""
                {"type": "object", "required": ["error", "details"], "properties": {
                  "error": {"type": "string", "description": "what went wrong, in a few words"},
                  "details": {"type": "array", "items": {"type": "string"}, "description": "every problem found, e.g. each schema violation"}}}"""));
        ObjectNode responses = components.withObject("/responses");
        for (Map<String, String[]> common : List.of(COMMON, WITH_BODY)) {
            common.forEach((code, response) -> responses.set(response[0], errorResponse(response[1], code.equals("503"))));
        }
        ObjectNode apiKey = components.withObject("/securitySchemes").withObject("/" + RestScopes.SECURITY_KEY);
        apiKey.put("description", "A key from message_broker.api_keys. Each operation's security names the one scope it "
                + "needs (send, read, operate or admin); a key without it gets 403.");
        for (JsonNode path : doc.path("paths")) {
            for (Iterator<Map.Entry<String, JsonNode>> verbs = path.fields(); verbs.hasNext(); ) {
                ObjectNode operation = (ObjectNode) verbs.next().getValue();
                ObjectNode answers = operation.withObject("/responses");
                answers.remove("default"); // Camel's placeholder for a verb that declares none
                for (Iterator<Map.Entry<String, JsonNode>> declared = answers.fields(); declared.hasNext(); ) {
                    Map.Entry<String, JsonNode> answer = declared.next();
                    if (answer.getKey().compareTo("400") >= 0 && !answer.getValue().has("content") && !answer.getValue().has("$ref")) {
                        ((ObjectNode) answer.getValue()).set("content", errorContent());
                    }
                }
                COMMON.forEach((code, response) -> addReference(answers, code, response[0]));
                if (operation.has("requestBody")) {
                    WITH_BODY.forEach((code, response) -> addReference(answers, code, response[0]));
                    // a body the DSL gives no type (Camel then says string) is a JSON object, described in words
                    ObjectNode body = operation.withObject("/requestBody/content/application~1json");
                    if ("string".equals(body.path("schema").path("type").asText())) {
                        body.set("schema", JSON.createObjectNode().put("type", "object"));
                    }
                }
                operation.set("responses", sorted(answers));
            }
        }
    }

    /** The responses in the order of their codes. */
    private static ObjectNode sorted(ObjectNode answers) {
        ObjectNode sorted = JSON.createObjectNode();
        new java.util.TreeMap<>(answers.properties().stream()
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))).forEach(sorted::set);
        return sorted;
    }

    private static void addReference(ObjectNode answers, String code, String component) {
        if (!answers.has(code)) {
            answers.set(code, JSON.createObjectNode().put("$ref", RESPONSES + component));
        }
    }

    private static ObjectNode errorResponse(String description, boolean retryAfter) {
        ObjectNode response = JSON.createObjectNode().put("description", description);
        if (retryAfter) {
            response.withObject("/headers").withObject("/Retry-After").put("description", "seconds to wait before retrying")
                    .withObject("/schema").put("type", "integer");
        }
        response.set("content", errorContent());
        return response;
    }

    private static ObjectNode errorContent() {
        ObjectNode content = JSON.createObjectNode();
        content.withObject("/application~1json").withObject("/schema").put("$ref", SCHEMAS + ERROR);
        return content;
    }

    /**
     * The envelope's JSON Schema as a schema of this document: without its $id, and its own references
     * ({@code #/$defs/...}) made references into this document, so that every OpenAPI tool resolves them.
     */
    static JsonNode envelopeSchema() throws IOException {
        JsonNode schema;
        try (InputStream in = EnvelopeProcessor.class.getResourceAsStream(EnvelopeProcessor.SCHEMA_RESOURCE)) {
            schema = JSON.readTree(in);
        }
        ObjectNode copy = ((ObjectNode) schema).deepCopy();
        copy.remove("$id");
        copy.remove("$schema");
        rewriteReferences(copy);
        return copy;
    }

    private static void rewriteReferences(JsonNode node) {
        if (node instanceof ObjectNode object) {
            JsonNode ref = object.get("$ref");
            if (ref != null && ref.isTextual() && ref.asText().startsWith("#/")) {
                object.set("$ref", TextNode.valueOf(SCHEMAS + ENVELOPE + ref.asText().substring(1)));
            }
        }
        node.forEach(OpenApiDocument::rewriteReferences);
    }
}
