package org.mas.broker.routing;

/** A valid message that no rule gives a recipient: dead-lettered at once, never retried. */
public class UnroutableException extends Exception {

    public UnroutableException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
