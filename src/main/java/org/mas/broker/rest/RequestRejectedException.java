package org.mas.broker.rest;

import java.util.List;

/** A REST request refused before its body is read as an envelope: 401, 413 or 415. */
public class RequestRejectedException extends Exception {

    private final int status;
    private final List<String> details;

    public RequestRejectedException(int status, String error, List<String> details) {
        super(error);
        this.status = status;
        this.details = List.copyOf(details);
    }

    public RequestRejectedException(int status, String error) {
        this(status, error, List.of());
    }

    public int getStatus() {
        return status;
    }

    public List<String> getDetails() {
        return details;
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an expected outcome, not a fault
    }
}
