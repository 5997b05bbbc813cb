package org.mas.broker.rest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.mas.broker.MasNames;
import org.mas.broker.envelope.Envelope;
import org.mas.broker.envelope.InvalidEnvelopeException;

/** The REST API's answers: JSON bodies, {@code {"error": ..., "details": [...]}} for errors, never a stack trace. */
public class RestResponses {

    private static final Logger LOG = LoggerFactory.getLogger(RestResponses.class);
    /** Deep enough for any accepted envelope (read at most 1,000 levels deep) inside an answer's own few levels. */
    private static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .streamWriteConstraints(com.fasterxml.jackson.core.StreamWriteConstraints.builder().maxNestingDepth(1_100).build())
            .build());

    /** 202 once the message is safely on its queue(s), or parked on mas.dlq. */
    public void accepted(Exchange exchange) {
        Envelope envelope = exchange.getProperty(MasNames.PROPERTY_ENVELOPE, Envelope.class);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", envelope == null ? null : envelope.getId()); // null: it failed before it was read, and is parked
        body.put("status", "accepted");
        if (exchange.getProperty(MasNames.PROPERTY_DUPLICATE, false, Boolean.class)) {
            body.put("duplicate", true); // accepted before with the same content: not delivered again
        }
        respond(exchange, 202, body);
    }

    /** 401, 413, 415: the request was refused before its body was read. */
    public void rejected(Exchange exchange) {
        RequestRejectedException e = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, RequestRejectedException.class);
        error(exchange, e.getStatus(), e.getMessage(), e.getDetails());
        if (e.getStatus() == 429) {
            exchange.getMessage().setHeader("Retry-After", "5");
        }
    }

    /** 429 with Retry-After: a recipient's queue is past backlog.max_depth (what other ingresses dead-letter). */
    public void backlog(Exchange exchange) {
        Exception e = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        error(exchange, 429, "backlog limit reached", List.of(e == null ? "backlog" : e.getMessage()));
        exchange.getMessage().setHeader("Retry-After", "5");
    }

    /** 400 with every schema violation; 409 for an id already used by another message. */
    public void invalid(Exchange exchange) {
        InvalidEnvelopeException e = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, InvalidEnvelopeException.class);
        error(exchange, e.getHttpStatus(), e.getMessage(), e.getDetails());
    }

    /** 503: the broker (or the ledger) could not serve the request, e.g. not even the dead-letter queue took the message. */
    public void unavailable(Exchange exchange) {
        Exception e = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        LOG.error("REST request failed: {}", e == null ? "unknown error" : e.toString());
        error(exchange, 503, "temporarily unavailable, retry later", List.of());
        exchange.getMessage().setHeader("Retry-After", "5");
    }

    public void json(Exchange exchange, int status, Object body) {
        respond(exchange, status, body);
    }

    public static void error(Exchange exchange, int status, String error, List<String> details) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("details", details);
        respond(exchange, status, body);
    }

    private static void respond(Exchange exchange, int status, Object body) {
        Message out = exchange.getMessage();
        out.removeHeaders("*"); // internal headers (mas_*, JMS*) are not for the HTTP response
        try {
            out.setBody(MAPPER.writeValueAsString(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON response", e);
        }
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
    }
}
