package org.mas.broker.envelope;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

class EnvelopeProcessorTest {

    private static final long MAX_BYTES = 4096;
    private static final String MINIMAL =
            "{\"from_agent\":\"planner\",\"to_agent\":\"worker\",\"message_type\":\"request\",\"payload\":{\"n\":1}}";

    private static CamelContext camel;
    private final EnvelopeProcessor processor = new EnvelopeProcessor(MAX_BYTES);

    @BeforeAll
    static void createContext() {
        camel = new DefaultCamelContext();
    }

    @AfterAll
    static void closeContext() throws Exception {
        camel.close();
    }

    /** The minimal envelope with extra top-level JSON members, e.g. {@code "\"priority\":8"}. */
    private static String minimalWith(String extraMembers) {
        return MINIMAL.substring(0, MINIMAL.length() - 1) + "," + extraMembers + "}";
    }

    private Exchange accept(String body) throws InvalidEnvelopeException {
        Exchange exchange = new DefaultExchange(camel);
        exchange.getIn().setBody(body);
        processor.accept(exchange);
        return exchange;
    }

    private static Envelope envelopeOf(Exchange exchange) {
        return exchange.getProperty("envelope", Envelope.class);
    }

    private InvalidEnvelopeException rejection(String body) {
        InvalidEnvelopeException e = catchThrowableOfType(InvalidEnvelopeException.class, () -> accept(body));
        assertThat(e).as("expected %s to be rejected", body).isNotNull();
        return e;
    }

    // --- normalization of a valid envelope ----------------------------------------------------------------------

    @Test
    void minimalEnvelopeGetsEveryDefault() throws Exception {
        Instant before = Instant.now();
        Exchange exchange = accept(MINIMAL);

        Envelope envelope = envelopeOf(exchange);
        assertThat(envelope).isNotNull();
        assertThat(UUID.fromString(envelope.getId())).isNotNull();
        assertThat(envelope.getFromAgent()).isEqualTo("planner");
        assertThat(envelope.getToAgent()).isEqualTo("worker");
        assertThat(envelope.getMessageType()).isEqualTo("request");
        assertThat(envelope.getPriority()).isEqualTo(5);
        assertThat(envelope.isRequiresAck()).isFalse();
        assertThat(envelope.getTtl()).isEqualTo(300);
        assertThat(envelope.getCorrelationId()).isNull();
        assertThat(envelope.getTimestamp()).endsWith("Z");
        assertThat(Instant.parse(envelope.getTimestamp())).isBetween(before.minusSeconds(1), Instant.now().plusSeconds(1));
    }

    @Test
    void bodyBecomesTheNormalizedJson() throws Exception {
        Exchange exchange = accept(MINIMAL);

        String body = exchange.getIn().getBody(String.class);
        assertThat(body).isEqualTo(envelopeOf(exchange).toJson());
        assertThat(body).startsWith("{\"id\":\"" + envelopeOf(exchange).getId() + "\",\"from_agent\":\"planner\"")
                .contains("\"priority\":5", "\"requires_ack\":false", "\"correlation_id\":null", "\"ttl\":300");
    }

    @Test
    void headersDescribeTheEnvelope() throws Exception {
        long before = System.currentTimeMillis();
        Exchange exchange = accept(minimalWith("\"id\":\"m-1\",\"priority\":8,\"requires_ack\":true,"
                + "\"correlation_id\":\"conv-7\",\"ttl\":60"));
        long after = System.currentTimeMillis();

        Map<String, Object> headers = exchange.getIn().getHeaders();
        assertThat(headers).containsEntry("mas_id", "m-1")
                .containsEntry("mas_from", "planner")
                .containsEntry("mas_type", "request")
                .containsEntry("mas_requires_ack", true)
                .containsEntry("mas_correlation_id", "conv-7")
                .containsEntry("JMSPriority", 7);
        assertThat((Long) headers.get("JMSExpiration")).isBetween(before + 60_000, after + 60_000);
    }

    @Test
    void withoutCorrelationIdNoCorrelationHeaderIsSet() throws Exception {
        Exchange exchange = accept(MINIMAL);

        assertThat(exchange.getIn().getHeaders()).doesNotContainKey("mas_correlation_id")
                .containsEntry("mas_requires_ack", false)
                .containsEntry("JMSPriority", 4);
    }

    @Test
    void defaultTtlExpiresInFiveMinutes() throws Exception {
        long now = System.currentTimeMillis();
        Exchange exchange = accept(MINIMAL);

        assertThat(exchange.getIn().getHeader("JMSExpiration", Long.class)).isCloseTo(now + 300_000, within(5_000L));
    }

    @Test
    void ttlZeroNeverExpires() throws Exception {
        Exchange exchange = accept(minimalWith("\"ttl\":0"));

        assertThat(envelopeOf(exchange).getTtl()).isZero();
        assertThat(exchange.getIn().getHeader("JMSExpiration")).isEqualTo(0L);
    }

    @Test
    void givenIdIsKept() throws Exception {
        assertThat(envelopeOf(accept(minimalWith("\"id\":\"order-42\""))).getId()).isEqualTo("order-42");
    }

    @ParameterizedTest
    @CsvSource({"low, 3", "normal, 5", "medium, 5", "high, 8", "critical, 10"})
    void priorityWordsMapToNumbers(String word, int expected) throws Exception {
        Exchange exchange = accept(minimalWith("\"priority\":\"" + word + "\""));

        assertThat(envelopeOf(exchange).getPriority()).isEqualTo(expected);
        assertThat(exchange.getIn().getHeader("JMSPriority")).isEqualTo(expected - 1);
        assertThat(exchange.getIn().getBody(String.class)).contains("\"priority\":" + expected + ",");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 10})
    void integerPrioritiesAtTheBoundsAreAccepted(int priority) throws Exception {
        Exchange exchange = accept(minimalWith("\"priority\":" + priority));

        assertThat(envelopeOf(exchange).getPriority()).isEqualTo(priority);
        assertThat(exchange.getIn().getHeader("JMSPriority")).isEqualTo(priority - 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "11", "\"urgent\"", "\"5\""})
    void priorityOutsideTheRangeOrWordsIsRejected(String priority) {
        InvalidEnvelopeException e = rejection(minimalWith("\"priority\":" + priority));

        assertThat(e.getDetails()).isNotEmpty().allSatisfy(detail -> assertThat(detail).startsWith("$.priority"));
    }

    @Test
    void timestampWithoutOffsetIsUtc() throws Exception {
        Envelope envelope = envelopeOf(accept(minimalWith("\"timestamp\":\"2026-03-01T10:15:30\"")));

        assertThat(envelope.getTimestamp()).isEqualTo("2026-03-01T10:15:30Z");
    }

    @Test
    void timestampWithOffsetIsConvertedToUtc() throws Exception {
        Envelope envelope = envelopeOf(accept(minimalWith("\"timestamp\":\"2026-03-01T10:15:30+02:00\"")));

        assertThat(envelope.getTimestamp()).isEqualTo("2026-03-01T08:15:30Z");
    }

    @Test
    void timestampWithoutSecondsIsAccepted() throws Exception {
        Envelope envelope = envelopeOf(accept(minimalWith("\"timestamp\":\"2026-03-01T10:15Z\"")));

        assertThat(envelope.getTimestamp()).isEqualTo("2026-03-01T10:15:00Z");
    }

    @ParameterizedTest
    @ValueSource(strings = {"2026-13-45T00:00:00Z", "2026-02-30T00:00:00Z", "2026-03-01T10:15:30+19:00"})
    void impossibleTimestampIsRejected(String timestamp) {
        InvalidEnvelopeException e = rejection(minimalWith("\"timestamp\":\"" + timestamp + "\""));

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.timestamp").contains(timestamp);
    }

    @Test
    void timestampInAnotherFormatIsRejected() {
        InvalidEnvelopeException e = rejection(minimalWith("\"timestamp\":\"01/03/2026 10:15\""));

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.timestamp");
    }

    @Test
    void extraFieldsInThePayloadAreKept() throws Exception {
        Envelope envelope = envelopeOf(accept(
                "{\"from_agent\":\"planner\",\"to_agent\":\"worker\",\"message_type\":\"event\","
                        + "\"payload\":{\"task_type\":\"plan\",\"anything\":{\"deep\":[1,2]}}}"));

        assertThat(envelope.getPayload()).containsEntry("task_type", "plan")
                .containsEntry("anything", Map.of("deep", List.of(1, 2)));
    }

    @Test
    void knownOptionalTopLevelFieldsAreKeptAfterTheCoreFields() throws Exception {
        Exchange exchange = accept(minimalWith("\"classification\":\"CUI\",\"performative\":\"inform\","
                + "\"trace_id\":\"t-1\",\"conversation_id\":\"c-1\""));

        Envelope envelope = envelopeOf(exchange);
        assertThat(envelope.field("classification")).isEqualTo("CUI");
        assertThat(envelope.field("performative")).isEqualTo("inform");
        assertThat(envelope.field("trace_id")).isEqualTo("t-1");
        assertThat(envelope.field("absent")).isNull();
        assertThat(envelope.field("correlation_id")).isNull();
        assertThat(exchange.getIn().getBody(String.class))
                .endsWith("\"ttl\":300,\"classification\":\"CUI\",\"performative\":\"inform\","
                        + "\"trace_id\":\"t-1\",\"conversation_id\":\"c-1\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"UNCLASS", "CUI", "ITAR"})
    void everyClassificationIsAccepted(String classification) throws Exception {
        assertThat(envelopeOf(accept(minimalWith("\"classification\":\"" + classification + "\""))).field("classification"))
                .isEqualTo(classification);
    }

    @Test
    void unknownClassificationIsRejected() {
        assertThat(rejection(minimalWith("\"classification\":\"SECRET\"")).getDetails())
                .singleElement().asString().startsWith("$.classification");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cfp", "inform", "query-ref", "request-whenever"})
    void fipaPerformativesAreAccepted(String performative) throws Exception {
        assertThat(envelopeOf(accept(minimalWith("\"performative\":\"" + performative + "\""))).field("performative"))
                .isEqualTo(performative);
    }

    @Test
    void unknownPerformativeIsRejected() {
        assertThat(rejection(minimalWith("\"performative\":\"shout\"")).getDetails())
                .singleElement().asString().startsWith("$.performative");
    }

    // --- recipients -----------------------------------------------------------------------------------------------

    @Test
    void toAgentsListsTheRecipients() throws Exception {
        Envelope envelope = envelopeOf(accept(
                "{\"from_agent\":\"planner\",\"to_agents\":[\"a\",\"b\"],\"message_type\":\"command\",\"payload\":{}}"));

        assertThat(envelope.getToAgents()).containsExactly("a", "b");
        assertThat(envelope.getToAgent()).isNull();
        assertThat(envelope.isBroadcast()).isFalse();
    }

    @Test
    void toAgentBroadcastIsABroadcast() throws Exception {
        Envelope envelope = envelopeOf(accept(
                "{\"from_agent\":\"planner\",\"to_agent\":\"broadcast\",\"message_type\":\"broadcast\",\"payload\":{}}"));

        assertThat(envelope.isBroadcast()).isTrue();
        assertThat(envelope.getToAgents()).isEmpty();
    }

    @Test
    void singleRecipientIsNotABroadcast() throws Exception {
        Envelope envelope = envelopeOf(accept(MINIMAL));

        assertThat(envelope.isBroadcast()).isFalse();
        assertThat(envelope.getToAgents()).isEmpty();
    }

    @Test
    void bothToAgentAndToAgentsIsOneClearDetail() {
        InvalidEnvelopeException e = rejection(minimalWith("\"to_agents\":[\"other\"]"));

        assertThat(e.getMessage()).isEqualTo("envelope does not match the schema");
        assertThat(e.getDetails()).containsExactly(
                "$: exactly one of to_agent, to_agents or to_capability is required (to_agent and to_agents are present)");
    }

    @Test
    void neitherToAgentNorToAgentsIsRejected() {
        InvalidEnvelopeException e = rejection("{\"from_agent\":\"planner\",\"message_type\":\"request\",\"payload\":{}}");

        assertThat(e.getDetails()).containsExactly("$: exactly one of to_agent, to_agents or to_capability is required");
    }

    // --- to_capability ------------------------------------------------------------------------------------------

    @Test
    void toCapabilityIsKeptAndReadable() throws Exception {
        Exchange exchange = accept(
                "{\"from_agent\":\"planner\",\"to_capability\":\"text.summarize\",\"message_type\":\"request\",\"payload\":{}}");
        Envelope envelope = envelopeOf(exchange);

        assertThat(envelope.getToCapability()).isEqualTo("text.summarize");
        assertThat(envelope.getToAgent()).isNull();
        assertThat(envelope.getToAgents()).isEmpty();
        assertThat(envelope.isBroadcast()).isFalse();
        assertThat(envelope.toJson()).contains("\"to_capability\":\"text.summarize\"").doesNotContain("to_agent");
    }

    @Test
    void toAgentAndToCapabilityIsOneClearDetail() {
        InvalidEnvelopeException e = rejection(minimalWith("\"to_capability\":\"summarize\""));

        assertThat(e.getDetails()).containsExactly(
                "$: exactly one of to_agent, to_agents or to_capability is required (to_agent and to_capability are present)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a..b", ".a", "a.", "sum*", "a#", "a b", "a:b", "a/b"})
    void aCapabilityOutsideItsCharacterSetIsRejected(String capability) {
        InvalidEnvelopeException e = rejection("{\"from_agent\":\"planner\",\"to_capability\":\"" + capability
                + "\",\"message_type\":\"request\",\"payload\":{}}");

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.to_capability");
    }

    @Test
    void theSchemaChecksCapabilitiesWithTheBrokersOwnPattern() throws Exception {
        com.fasterxml.jackson.databind.JsonNode schema = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(processor.schemaJson());

        assertThat(schema.at("/properties/to_capability/pattern").asText()).isEqualTo(org.mas.broker.MasNames.CAPABILITY_REGEX);
        assertThat(org.mas.broker.MasNames.isCapability("x".repeat(128))).isTrue();
        assertThat(org.mas.broker.MasNames.isCapability("x".repeat(129))).isFalse();
    }

    @Test
    void anAgentIdThatNamesACapabilityCannotBeAddressed() {
        InvalidEnvelopeException single = rejection(
                "{\"from_agent\":\"planner\",\"to_agent\":\"capability:summarize\",\"message_type\":\"request\",\"payload\":{}}");
        InvalidEnvelopeException several = rejection("{\"from_agent\":\"planner\",\"to_agents\":[\"a\",\"capability:x\"],"
                + "\"message_type\":\"request\",\"payload\":{}}");

        assertThat(single.getDetails()).containsExactly("$.to_agent: 'capability:summarize' is not an agent id that can be "
                + "addressed: ids starting with 'capability:' name capabilities; address a capability with to_capability");
        assertThat(several.getDetails()).singleElement().asString()
                .startsWith("$.to_agents[1]: 'capability:x' is not an agent id that can be addressed");
    }

    @Test
    void toAgentsWithDuplicatesIsRejected() {
        InvalidEnvelopeException e = rejection(
                "{\"from_agent\":\"planner\",\"to_agents\":[\"a\",\"a\"],\"message_type\":\"request\",\"payload\":{}}");

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.to_agents").contains("unique");
    }

    @Test
    void broadcastInsideToAgentsIsRejected() {
        InvalidEnvelopeException e = rejection(
                "{\"from_agent\":\"planner\",\"to_agents\":[\"a\",\"broadcast\"],\"message_type\":\"request\",\"payload\":{}}");

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.to_agents[1]");
    }

    @Test
    void emptyToAgentsIsRejected() {
        InvalidEnvelopeException e = rejection(
                "{\"from_agent\":\"planner\",\"to_agents\":[],\"message_type\":\"request\",\"payload\":{}}");

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.to_agents");
    }

    // --- other schema violations ----------------------------------------------------------------------------------

    @Test
    void fromAgentWithInvalidCharactersIsRejected() {
        InvalidEnvelopeException e = rejection(MINIMAL.replace("\"planner\"", "\"plan ner/1\""));

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.from_agent");
    }

    @Test
    void unknownTopLevelFieldIsRejected() {
        InvalidEnvelopeException e = rejection(minimalWith("\"prio\":5"));

        assertThat(e.getDetails()).singleElement().asString().contains("'prio'");
    }

    @Test
    void messageTypeOutsideTheEnumIsRejected() {
        InvalidEnvelopeException e = rejection(MINIMAL.replace("\"request\"", "\"gossip\""));

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.message_type");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[1,2]", "\"text\"", "42", "null"})
    void payloadThatIsNotAnObjectIsRejected(String payload) {
        InvalidEnvelopeException e = rejection(MINIMAL.replace("{\"n\":1}", payload));

        assertThat(e.getDetails()).singleElement().asString().startsWith("$.payload");
    }

    @Test
    void missingRequiredFieldsAreRejected() {
        InvalidEnvelopeException e = rejection("{\"to_agent\":\"worker\"}");

        assertThat(e.getDetails()).hasSize(3)
                .anySatisfy(detail -> assertThat(detail).contains("from_agent"))
                .anySatisfy(detail -> assertThat(detail).contains("message_type"))
                .anySatisfy(detail -> assertThat(detail).contains("payload"));
    }

    @Test
    void everyViolationIsReportedTogether() {
        InvalidEnvelopeException e = rejection("{\"from_agent\":\"bad agent\",\"to_agent\":\"worker\","
                + "\"message_type\":\"gossip\",\"payload\":[],\"priority\":99}");

        assertThat(e.getDetails()).hasSizeGreaterThanOrEqualTo(3)
                .anySatisfy(detail -> assertThat(detail).startsWith("$.from_agent"))
                .anySatisfy(detail -> assertThat(detail).startsWith("$.message_type"))
                .anySatisfy(detail -> assertThat(detail).startsWith("$.payload"))
                .anySatisfy(detail -> assertThat(detail).startsWith("$.priority"));
        assertThat(e.describe()).startsWith("envelope does not match the schema: ").contains("; ");
    }

    // --- not an envelope at all -----------------------------------------------------------------------------------

    @Test
    void textThatIsNotJsonIsRejected() {
        InvalidEnvelopeException e = rejection("not json at all");

        assertThat(e.getMessage()).isEqualTo("not valid JSON");
        assertThat(e.getDetails()).singleElement().asString().contains("line 1");
    }

    @Test
    void jsonArrayIsNotAnEnvelope() {
        assertThat(rejection("[" + MINIMAL + "]").getMessage()).startsWith("not a JSON object");
    }

    @Test
    void duplicateKeysAreRejected() {
        InvalidEnvelopeException e = rejection(minimalWith("\"from_agent\":\"impostor\""));

        assertThat(e.getMessage()).isEqualTo("not valid JSON");
        assertThat(e.getDetails()).singleElement().asString().contains("Duplicate field 'from_agent'");
    }

    @Test
    void trailingContentAfterTheObjectIsRejected() {
        assertThat(rejection(MINIMAL + " {}").getMessage()).isEqualTo("not valid JSON");
    }

    @Test
    void missingBodyIsRejected() {
        Exchange exchange = new DefaultExchange(camel);

        assertThatThrownBy(() -> processor.accept(exchange))
                .isInstanceOf(InvalidEnvelopeException.class)
                .hasMessageStartingWith("empty message");
    }

    @Test
    void oversizedBodyIsRejectedBeforeParsing() {
        String tooLarge = "x".repeat((int) MAX_BYTES + 1); // not JSON: only the size check can give the reason

        InvalidEnvelopeException e = rejection(tooLarge);

        assertThat(e.getMessage()).startsWith("message too large").contains(String.valueOf(MAX_BYTES + 1))
                .contains(String.valueOf(MAX_BYTES));
        assertThat(e.getDetails()).isEmpty();
    }

    @Test
    void sizeLimitCountsBytesNotCharacters() {
        // 2,100 two-byte characters: under the limit in chars, over it in UTF-8 bytes
        String payloadText = "é".repeat(2100);
        String body = MINIMAL.replace("{\"n\":1}", "{\"text\":\"" + payloadText + "\"}");
        assertThat(body.length()).isLessThan((int) MAX_BYTES);
        assertThat(body.getBytes(StandardCharsets.UTF_8).length).isGreaterThan((int) MAX_BYTES);

        assertThat(rejection(body).getMessage()).startsWith("message too large");
    }

    @Test
    void bodyExactlyAtTheLimitIsAccepted() throws Exception {
        String padding = "p".repeat((int) MAX_BYTES - MINIMAL.length() - "\"pad\":\"\",".length());
        String body = MINIMAL.replace("{\"n\":1}", "{\"pad\":\"" + padding + "\",\"n\":1}");
        assertThat(body.getBytes(StandardCharsets.UTF_8)).hasSize((int) MAX_BYTES);

        assertThat(envelopeOf(accept(body)).getPayload()).containsEntry("n", 1);
    }

    // --- package-private steps ------------------------------------------------------------------------------------

    @Test
    void parseAndNormalizeCanBeUsedDirectly() throws Exception {
        Envelope envelope = processor.normalize(processor.parse(
                minimalWith("\"priority\":\"high\",\"requires_ack\":true").getBytes(StandardCharsets.UTF_8)));

        assertThat(envelope.getPriority()).isEqualTo(8);
        assertThat(envelope.isRequiresAck()).isTrue();
        assertThat(Instant.parse(envelope.getTimestamp())).isCloseTo(Instant.now(), within(5, ChronoUnit.SECONDS));
    }

    // --- edge cases found in review ----------------------------------------------------------------------------

    @Test
    void aWholeNumberWrittenAsDecimalIsAPriority() throws Exception {
        Exchange exchange = accept(minimalWith("\"priority\":5.0"));
        assertThat(envelopeOf(exchange).getPriority()).isEqualTo(5);
        assertThat(exchange.getIn().getHeader("JMSPriority", Integer.class)).isEqualTo(4);
    }

    @Test
    void aTtlBeyondTenYearsIsRejectedRatherThanOverflowing() {
        assertThat(rejection(minimalWith("\"ttl\":9223372036854775807")).getDetails())
                .anySatisfy(d -> assertThat(d).startsWith("$.ttl"));
    }

    @Test
    void anImpossibleDateIsReportedTogetherWithOtherViolations() {
        assertThat(rejection("{\"from_agent\":\"a\",\"to_agent\":\"b\",\"message_type\":\"nope\",\"payload\":{},"
                + "\"timestamp\":\"2026-13-45T00:00:00Z\"}").getDetails())
                .anySatisfy(d -> assertThat(d).startsWith("$.message_type"))
                .anySatisfy(d -> assertThat(d).startsWith("$.timestamp"));
    }

    @Test
    void anEmptyStringIsAnEmptyMessage() {
        assertThat(rejection("")).hasMessageStartingWith("empty message");
    }
}
