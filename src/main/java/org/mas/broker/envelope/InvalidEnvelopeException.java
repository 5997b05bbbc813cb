package org.mas.broker.envelope;

import java.util.List;

/** Input that is not an acceptable envelope: never retried; each ingress rejects it in its own way. */
public class InvalidEnvelopeException extends Exception {

    private final List<String> details;
    private final int httpStatus;

    public InvalidEnvelopeException(String reason, List<String> details) {
        this(reason, 400, details);
    }

    /** @param httpStatus what REST answers: 400, or 409 for an id already used by another message */
    public InvalidEnvelopeException(String reason, int httpStatus, List<String> details) {
        super(reason);
        this.details = List.copyOf(details);
        this.httpStatus = httpStatus;
    }

    public int getHttpStatus() {
        return httpStatus;
    }

    public InvalidEnvelopeException(String reason) {
        this(reason, List.of());
    }

    /** Every violation found, e.g. {@code "$.priority: must be ..."}; empty when the reason says it all. */
    public List<String> getDetails() {
        return details;
    }

    /** The reason and every detail on one line, as it goes into {@code mas_error}. */
    public String describe() {
        return details.isEmpty() ? getMessage() : getMessage() + ": " + String.join("; ", details);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an expected outcome, not a fault: no stack trace to build or log
    }
}
