package org.mas.broker.rest;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.model.ModelCamelContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.envelope.EnvelopeProcessor;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * GET /api/openapi.json against README and the REST DSL: every operation README's REST tables list is in the
 * document with every status code README gives it; every REST verb is in it with the scope it declares; the error
 * shape and the envelope schema are declared once and referenced; every reference resolves.
 */
class OpenApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String READER = "reader-key-0123456789";
    private static final String SENDER = "sender-key-0123456789";

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of("MESSAGE_BROKER_API_KEYS", "[\""
            + RunningBroker.API_KEY + "\",{\"name\":\"reader\",\"key\":\"" + READER + "\",\"scopes\":[\"read\"]},"
            + "{\"name\":\"sender\",\"key\":\"" + SENDER + "\",\"scopes\":[\"send\"]}]"));

    private static JsonNode document;

    @BeforeAll
    static void readDocument() throws Exception {
        HttpResponse<String> response = broker.get("/api/openapi.json", READER);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        document = JSON.readTree(response.body());
    }

    @Test
    void isAnOpenApi3DocumentWithPathsAndComponents() {
        assertThat(document.path("openapi").asText()).startsWith("3.");
        assertThat(document.path("info").path("title").asText()).isEqualTo("MAS Message Broker");
        assertThat(document.path("paths").size()).isGreaterThanOrEqualTo(15);
        assertThat(document.path("components").path("schemas").has(OpenApiDocument.ERROR)).isTrue();
        JsonNode apiKey = document.path("components").path("securitySchemes").path(RestScopes.SECURITY_KEY);
        assertThat(apiKey.path("type").asText()).isEqualTo("apiKey");
        assertThat(apiKey.path("in").asText()).isEqualTo("header");
        assertThat(apiKey.path("name").asText()).isEqualTo("X-API-Key");
    }

    /** What start-up holds every verb to (RestScopes) is what the document says, verb for verb. */
    @Test
    void everyRestVerbIsInTheDocumentWithTheScopeItDeclaresADescriptionAndASuccess() {
        Map<String, String> declared = RestScopes.scopes(((ModelCamelContext) broker.context()).getRestDefinitions());
        Map<String, String> documented = new LinkedHashMap<>();
        operations().forEach((verb, operation) -> {
            JsonNode security = operation.path("security");
            assertThat(security.size()).as("security of %s", verb).isEqualTo(1);
            assertThat(security.get(0).path(RestScopes.SECURITY_KEY).size()).as("scopes of %s", verb).isEqualTo(1);
            documented.put(verb, security.get(0).path(RestScopes.SECURITY_KEY).get(0).asText());
            assertThat(operation.path("summary").asText()).as("description of %s", verb).isNotBlank();
            assertThat(operation.path("responses").fieldNames()).toIterable().as("responses of %s", verb)
                    .anyMatch(code -> code.startsWith("2"));
        });
        assertThat(documented).isEqualTo(declared);
    }

    @Test
    void everyErrorAnswerIsTheOneErrorShapeAndEveryVerbDeclaresWhatMasRestAnswers() {
        operations().forEach((verb, operation) -> {
            JsonNode responses = operation.path("responses");
            assertThat(responses.fieldNames()).toIterable().as("responses of %s", verb).contains("400", "401", "403", "503");
            if (operation.has("requestBody")) {
                assertThat(responses.fieldNames()).toIterable().as("responses of %s", verb).contains("413", "415");
            }
            responses.fields().forEachRemaining(answer -> {
                JsonNode response = resolve(answer.getValue());
                assertThat(response.path("description").asText()).as("%s %s", verb, answer.getKey()).isNotBlank();
                if (answer.getKey().compareTo("400") >= 0) {
                    assertThat(response.path("content").path("application/json").path("schema").path("$ref").asText())
                            .as("%s %s", verb, answer.getKey()).isEqualTo("#/components/schemas/" + OpenApiDocument.ERROR);
                }
            });
        });
        JsonNode error = document.path("components").path("schemas").path(OpenApiDocument.ERROR);
        assertThat(error.path("required")).extracting(JsonNode::asText).containsExactly("error", "details");
        assertThat(resolve(operations().get("GET /api/messages/{id}").path("responses").path("503"))
                .path("headers").has("Retry-After")).isTrue();
    }

    @Test
    void theEnvelopeBodyIsTheEnvelopesJsonSchema() throws IOException {
        for (String verb : List.of("POST /api/messages", "POST /api/dlq/{id}/replay")) {
            assertThat(operations().get(verb).path("requestBody").path("content").path("application/json").path("schema")
                    .path("$ref").asText()).as(verb).isEqualTo("#/components/schemas/" + OpenApiDocument.ENVELOPE);
        }
        JsonNode schema;
        try (InputStream in = EnvelopeProcessor.class.getResourceAsStream(EnvelopeProcessor.SCHEMA_RESOURCE)) {
            schema = JSON.readTree(in);
        }
        JsonNode envelope = document.path("components").path("schemas").path(OpenApiDocument.ENVELOPE);
        assertThat(envelope.path("required")).isEqualTo(schema.path("required"));
        assertThat(envelope.path("oneOf")).isEqualTo(schema.path("oneOf"));
        assertThat(envelope.path("additionalProperties").asBoolean(true)).isFalse();
        assertThat(fieldNames(envelope.path("properties"))).isEqualTo(fieldNames(schema.path("properties")));
        assertThat(fieldNames(envelope.path("$defs"))).isEqualTo(fieldNames(schema.path("$defs")));
        assertThat(envelope.path("properties").path("message_type")).isEqualTo(schema.path("properties").path("message_type"));
        assertThat(envelope.path("properties").path("from_agent").path("$ref").asText())
                .isEqualTo("#/components/schemas/Envelope/$defs/agentId");
    }

    @Test
    void everyReferenceInTheDocumentResolves() {
        List<String> references = new ArrayList<>();
        collectReferences(document, references);
        assertThat(references).isNotEmpty();
        for (String reference : references) {
            assertThat(reference).startsWith("#/");
            assertThat(document.at(reference.substring(1)).isMissingNode()).as(reference).isFalse();
        }
    }

    @Test
    void everyOperationInReadmesRestTablesIsDocumentedWithEveryStatusCodeReadmeGivesIt() throws IOException {
        List<ReadmeRow> rows = readmeRows(Files.readString(Path.of("README.md")));
        assertThat(rows).hasSizeGreaterThanOrEqualTo(20);
        Map<String, JsonNode> operations = operations();
        Set<String> skipped = new TreeSet<>();
        for (ReadmeRow row : rows) {
            List<String> verbs = row.verbs().stream().filter(verb -> {
                boolean management = verb.split(" ", 2)[1].startsWith("/observe/");
                if (management) {
                    skipped.add(verb);
                }
                return !management;
            }).toList();
            for (String verb : verbs) {
                assertThat(operations).as("README's %s in the document", verb).containsKey(verb);
            }
            for (String code : row.codes()) {
                assertThat(verbs).as("README's %s for %s, declared by %s", code, row.call(), verbs.size() == 1 ? "it" : "one of them")
                        .anyMatch(verb -> operations.get(verb).path("responses").has(code));
            }
        }
        // Camel's management endpoints (health, metrics) are not REST verbs: they are documented in README only
        assertThat(skipped).containsExactly("GET /observe/health", "GET /observe/metrics");
        assertThat(rows.stream().filter(row -> row.call().contains("POST /api/messages`")).findFirst().orElseThrow().codes())
                .as("the codes README gives POST /api/messages").contains("202", "400", "401", "403", "409", "413", "415", "429", "503");
    }

    @Test
    void theDocumentNeedsAKeyWithTheReadScope() throws Exception {
        HttpResponse<String> none = broker.get("/api/openapi.json", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(none.body()).path("error").asText()).isEqualTo("missing API key");
        HttpResponse<String> sender = broker.get("/api/openapi.json", SENDER);
        assertThat(sender.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(sender.body()).path("details").get(0).asText())
                .isEqualTo("API key 'sender' lacks the scope 'read' for GET /api/openapi.json");
        assertThat(sender.headers().firstValue("Content-Type")).hasValue("application/json");
    }

    /** An answer of the broker has the documented error shape. */
    @Test
    void aRealErrorAnswerHasTheDocumentedShape() throws Exception {
        HttpResponse<String> unknown = broker.get("/api/messages/no-such-message", READER);
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(operations().get("GET /api/messages/{id}").path("responses").has("404")).isTrue();
        assertThat(fieldNames(JSON.readTree(unknown.body()))).containsExactlyElementsOf(
                fieldNames(document.path("components").path("schemas").path(OpenApiDocument.ERROR).path("properties")));
    }

    // ---- the document

    /** "METHOD /path" -> its operation. */
    private static Map<String, JsonNode> operations() {
        Map<String, JsonNode> operations = new LinkedHashMap<>();
        document.path("paths").fields().forEachRemaining(path -> path.getValue().fields().forEachRemaining(verb ->
                operations.put(verb.getKey().toUpperCase(Locale.ROOT) + " " + path.getKey(), verb.getValue())));
        return operations;
    }

    private static JsonNode resolve(JsonNode node) {
        return node.has("$ref") ? document.at(node.get("$ref").asText().substring(1)) : node;
    }

    private static void collectReferences(JsonNode node, List<String> references) {
        if (node.has("$ref")) {
            references.add(node.get("$ref").asText());
        }
        node.forEach(child -> collectReferences(child, references));
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    // ---- README

    /** A row of a {@code | call | ... | answers |} table: its operations ("METHOD /path") and the status codes it names. */
    record ReadmeRow(String call, List<String> verbs, Set<String> codes) {
    }

    private static final Pattern CODE_SPAN = Pattern.compile("`([^`]*)`");
    private static final Pattern OPERATION = Pattern.compile("^([A-Z]+(?:/[A-Z]+)*) (/\\S*)$");
    /** Numbers that are limits or ranges, not answers: "max 500", "default 100", "1..500", "at most 200". */
    private static final Pattern NOT_A_STATUS = Pattern.compile("(?:max|default|at most|up to) \\d+|\\d+\\.\\.\\d+");
    private static final Pattern STATUS = Pattern.compile("(?<![\\w.,])([1-5]\\d\\d)(?![\\w,]|\\.\\d)");
    private static final Pattern LINK = Pattern.compile("\\]\\(#([a-z0-9-]+)\\)");

    /** The call tables of README's "REST API" section and of the sections it links to. */
    static List<ReadmeRow> readmeRows(String readme) {
        List<String> lines = readme.lines().toList();
        List<String> restApi = section(lines, "rest-api");
        assertThat(restApi).as("README's REST API section").isNotEmpty();
        Set<String> anchors = new LinkedHashSet<>();
        anchors.add("rest-api");
        restApi.forEach(line -> {
            Matcher link = LINK.matcher(line);
            while (link.find()) {
                anchors.add(link.group(1));
            }
        });
        List<ReadmeRow> rows = new ArrayList<>();
        for (String anchor : anchors) {
            rows.addAll(tableRows(section(lines, anchor)));
        }
        return rows;
    }

    /** The lines under the heading with this GitHub anchor, up to the next heading of its level or above. */
    private static List<String> section(List<String> lines, String anchor) {
        boolean fenced = false;
        for (int i = 0; i < lines.size(); i++) {
            fenced ^= lines.get(i).startsWith("```");
            int level = headingLevel(lines.get(i));
            if (!fenced && level > 0 && anchor(lines.get(i).substring(level).trim()).equals(anchor)) {
                List<String> section = new ArrayList<>();
                boolean inFence = false;
                for (int j = i + 1; j < lines.size(); j++) {
                    inFence ^= lines.get(j).startsWith("```");
                    int next = headingLevel(lines.get(j));
                    if (!inFence && next > 0 && next <= level) {
                        break;
                    }
                    section.add(lines.get(j));
                }
                return section;
            }
        }
        return List.of();
    }

    private static int headingLevel(String line) {
        int level = 0;
        while (level < line.length() && line.charAt(level) == '#') {
            level++;
        }
        return level > 0 && level < line.length() && line.charAt(level) == ' ' ? level : 0;
    }

    private static String anchor(String heading) {
        return heading.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 -]", "").replace(' ', '-');
    }

    private static List<ReadmeRow> tableRows(List<String> section) {
        List<ReadmeRow> rows = new ArrayList<>();
        List<String> header = null;
        for (String line : section) {
            if (!line.startsWith("|")) {
                header = null;
                continue;
            }
            List<String> cells = cells(line);
            if (header == null) {
                header = cells;
                continue;
            }
            if (!header.get(0).equals("call") || !header.get(header.size() - 1).equals("answers") || line.startsWith("|---")) {
                continue;
            }
            String call = cells.get(0);
            List<String> verbs = new ArrayList<>();
            Matcher span = CODE_SPAN.matcher(call);
            while (span.find()) {
                Matcher operation = OPERATION.matcher(span.group(1).trim());
                assertThat(operation.matches()).as("README call %s", span.group(1)).isTrue();
                for (String method : operation.group(1).split("/")) {
                    verbs.add(method + " " + operation.group(2));
                }
            }
            assertThat(verbs).as("operations of README's row %s", call).isNotEmpty();
            String answers = NOT_A_STATUS.matcher(CODE_SPAN.matcher(cells.get(cells.size() - 1)).replaceAll(" ")).replaceAll(" ");
            Set<String> codes = new TreeSet<>();
            Matcher status = STATUS.matcher(answers);
            while (status.find()) {
                codes.add(status.group(1));
            }
            rows.add(new ReadmeRow(call, verbs, codes));
        }
        return rows;
    }

    /** A table row's cells; a | inside a code span does not end a cell. */
    private static List<String> cells(String line) {
        String inner = line.trim();
        inner = inner.substring(1, inner.endsWith("|") ? inner.length() - 1 : inner.length());
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean code = false;
        for (char c : inner.toCharArray()) {
            if (c == '`') {
                code = !code;
            }
            if (c == '|' && !code) {
                cells.add(cell.toString().trim());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        cells.add(cell.toString().trim());
        return cells;
    }
}
